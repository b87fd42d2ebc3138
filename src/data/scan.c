/* Recursive listing of image files under a folder, shared by data sets and
 * mask folders. Deterministic: sorted by relative path (byte order). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/data_internal.h"

bool cp_has_image_ext(const char *name)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".png", ".bmp", ".tga", ".gif"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return false;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0) return true;
    return false;
}

char *cp_path_join(const char *dir, const char *rel)
{
    size_t a = strlen(dir), b = strlen(rel);
    bool slash = a > 0 && dir[a - 1] != '/';
    char *p = malloc(a + slash + b + 1);
    if (!p) return NULL;
    memcpy(p, dir, a);
    if (slash) p[a] = '/';
    memcpy(p + a + slash, rel, b + 1);
    return p;
}

void cp_file_list_free(cp_file_list *list)
{
    for (size_t i = 0; i < list->count; i++) free(list->rel[i]);
    free(list->rel);
    for (size_t i = 0; i < list->skipped_count; i++) {
        free(list->skipped[i].rel);
        free(list->skipped[i].why);
    }
    free(list->skipped);
    memset(list, 0, sizeof *list);
}

void cp_warn_skipped(const char *dir, const cp_skipped_entry *e)
{
    size_t n = strlen(dir);
    cp_warn("skipping %s'%s%s%s': %s", e->folder ? "folder " : "", dir,
            n && dir[n - 1] != '/' ? "/" : "", e->rel, e->why);
}

/* Records an entry left out; -1 when out of memory. */
static int push_skipped(cp_file_list *list, const char *rel, const char *why, bool folder)
{
    if (list->skipped_count == list->skipped_cap) {
        size_t cap = list->skipped_cap ? list->skipped_cap * 2 : 16;
        cp_skipped_entry *s = realloc(list->skipped, cap * sizeof *s);
        if (!s) return -1;
        list->skipped = s;
        list->skipped_cap = cap;
    }
    cp_skipped_entry *e = &list->skipped[list->skipped_count];
    e->rel = strdup(rel);
    e->why = strdup(why);
    e->folder = folder;
    if (!e->rel || !e->why) {
        free(e->rel);
        free(e->why);
        return -1;
    }
    list->skipped_count++;
    return 0;
}

/* Why a non-regular, non-folder entry cannot be an image file. */
static const char *file_kind(mode_t mode)
{
    if (S_ISFIFO(mode)) return "not a regular file (a FIFO)";
    if (S_ISSOCK(mode)) return "not a regular file (a socket)";
    if (S_ISCHR(mode)) return "not a regular file (a character device)";
    if (S_ISBLK(mode)) return "not a regular file (a block device)";
    return "not a regular file";
}

static int push(cp_file_list *list, char *rel)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 256;
        char **r = realloc(list->rel, cap * sizeof *r);
        if (!r) return -1;
        list->rel = r;
        list->cap = cap;
    }
    list->rel[list->count++] = rel;
    return 0;
}

/* Folders on the current path, to stop at symlink cycles. */
typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
} ancestor;

#define MAX_DEPTH 64

#define OOM(root) cp_set_error(CP_ERR_OUT_OF_HOST_MEMORY, "out of host memory listing '%s'", root)

static cp_status scan(const char *root, const char *rel, const ancestor *up, int depth,
                      const char *what, cp_file_list *out)
{
    char *path = rel[0] ? cp_path_join(root, rel) : strdup(root);
    if (!path) return OOM(root);
    DIR *d = opendir(path);
    if (!d) {
        cp_status st = CP_OK;
        /* The folder given is required; one unreadable subfolder is not the
         * end of a run. */
        if (!rel[0])
            st = cp_set_error(CP_ERR_IO, "cannot read %s folder '%s': %s", what, path,
                              strerror(errno));
        else if (push_skipped(out, rel, strerror(errno), true) != 0)
            st = OOM(root);
        free(path);
        return st;
    }
    cp_status st = CP_OK;
    struct dirent *e;
    for (;;) {
        errno = 0;
        if ((e = readdir(d)) == NULL) {
            if (errno != 0 && push_skipped(out, rel[0] ? rel : ".", strerror(errno), true) != 0)
                st = OOM(root);
            break;
        }
        if (e->d_name[0] == '.') continue; /* ., .., hidden files, ._ files */
        char *child_rel = rel[0] ? cp_path_join(rel, e->d_name) : strdup(e->d_name);
        char *child = child_rel ? cp_path_join(root, child_rel) : NULL;
        struct stat sb;
        bool image_name = cp_has_image_ext(e->d_name);
        if (!child_rel || !child) {
            st = OOM(root);
        } else if (stat(child, &sb) != 0) {
            /* A dangling link or a file removed meanwhile: not an image. */
            if (image_name && push_skipped(out, child_rel, strerror(errno), false) != 0)
                st = OOM(root);
        } else if (S_ISDIR(sb.st_mode)) {
            bool cycle = depth >= MAX_DEPTH;
            for (const ancestor *a = up; a && !cycle; a = a->up)
                cycle = a->dev == sb.st_dev && a->ino == sb.st_ino;
            if (cycle) {
                char why[96];
                snprintf(why, sizeof why, "folder cycle or nesting deeper than %d", MAX_DEPTH);
                if (push_skipped(out, child_rel, why, true) != 0) st = OOM(root);
            } else {
                ancestor me = {sb.st_dev, sb.st_ino, up};
                st = scan(root, child_rel, &me, depth + 1, what, out);
            }
        } else if (!image_name) {
            /* not an image by name: ignored silently, whatever it is */
        } else if (!S_ISREG(sb.st_mode)) {
            /* stat only, never open: open() on a FIFO blocks for a writer. */
            if (push_skipped(out, child_rel, file_kind(sb.st_mode), false) != 0) st = OOM(root);
        } else if (push(out, child_rel) != 0) {
            st = OOM(root);
        } else {
            child_rel = NULL; /* owned by the list now */
        }
        free(child_rel);
        free(child);
        if (st != CP_OK) break;
    }
    closedir(d);
    free(path);
    return st;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

cp_status cp_scan_images(const char *dir, const char *what, cp_file_list *out)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (!dir || !dir[0]) return cp_set_error(CP_ERR_INVALID_ARGUMENT, "no %s folder given", what);
    if (stat(dir, &sb) != 0)
        return cp_set_error(CP_ERR_IO, "cannot open %s folder '%s': %s", what, dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cp_set_error(CP_ERR_INVALID_ARGUMENT, "%s folder '%s' is not a folder", what, dir);
    ancestor top = {sb.st_dev, sb.st_ino, NULL};
    cp_status st = scan(dir, "", &top, 0, what, out);
    if (st != CP_OK) {
        cp_file_list_free(out);
        return st;
    }
    if (out->count > 1) qsort(out->rel, out->count, sizeof *out->rel, cmp_str);
    return CP_OK;
}
