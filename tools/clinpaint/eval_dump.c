/* clinpaint eval --dump (eval_dump.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/image.h"
#include "eval_dump.h"
#include "image_cli.h"

cp_status eval_dump_prepare(const char *dir)
{
    cp_status st = ic_mkdirs(dir);
    if (st != CP_OK) return st;
    DIR *d = opendir(dir);
    if (!d) return cp_set_error(CP_ERR_IO, "cannot read folder %s: %s", dir, strerror(errno));
    struct dirent *e;
    bool empty = true;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT,
                            "--dump folder %s is not empty: give a new or empty folder (nothing in it is "
                            "replaced)", dir);
    return CP_OK;
}

static cp_status write_one(const char *dir, uint64_t index, const char *what, const float *chw, int S)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%05llu_%s.png", dir, (unsigned long long)index, what) >=
        (int)sizeof path)
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "--dump folder name too long: %s", dir);
    cp_image img;
    cp_status st = cp_chw_to_image(chw, S, S, &img);
    if (st != CP_OK) return st;
    st = cp_image_write_png(path, &img);
    cp_image_free(&img);
    return st;
}

cp_status eval_dump_image(void *user, uint64_t index, const float *image, const float *mask,
                          const float *composite, int S)
{
    const char *dir = user;
    const size_t plane = (size_t)S * S;
    float *m3 = malloc(3 * plane * sizeof *m3);
    if (!m3) return cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "eval --dump");
    for (size_t i = 0; i < plane; i++) /* white = hole, as masks are given to clinpaint */
        m3[i] = m3[plane + i] = m3[2 * plane + i] = mask[i] > 0.5f ? 1.0f : -1.0f;
    cp_status st = write_one(dir, index, "image", image, S);
    if (st == CP_OK) st = write_one(dir, index, "mask", m3, S);
    if (st == CP_OK) st = write_one(dir, index, "model", composite, S);
    free(m3);
    return st;
}
