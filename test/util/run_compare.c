/* Comparing two training runs' folders (run_compare.h). */
#include "util/run_compare.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinpaint/checkpoint.h"
#include "clinpaint/synth.h"
#include "util/test_util.h"

int tu_read_losses(const char *out, double v[][6], int max)
{
    char path[1200], line[512];
    snprintf(path, sizeof path, "%s/log.csv", out);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        unsigned long long step, epoch;
        ck_assert_int_eq(sscanf(line, "%llu,%llu,%lf,%lf,%lf,%lf,%lf,%lf", &step, &epoch, &v[n][0],
                                &v[n][1], &v[n][2], &v[n][3], &v[n][4], &v[n][5]),
                         8);
        ck_assert_uint_eq(step, (unsigned long long)n + 1);
        n++;
    }
    fclose(f);
    return n;
}

void tu_assert_losses_close(const char *a, const char *b, int from, int to, double tol)
{
    static double va[64][6], vb[64][6];
    ck_assert_int_ge(tu_read_losses(a, va, 64), to);
    ck_assert_int_ge(tu_read_losses(b, vb, 64), to);
    for (int i = from - 1; i < to; i++)
        for (int k = 0; k < 6; k++) {
            double rel = fabs(va[i][k] - vb[i][k]) / fmax(fabs(va[i][k]), 1e-12);
            ck_assert_msg(rel <= tol, "step %d column %d: %.9g against %.9g (relative %.2g)",
                          i + 1, k, va[i][k], vb[i][k], rel);
        }
}

/* Largest difference between the trainable parameters of two checkpoints. */
double tu_param_difference(const char *run_a, const char *run_b)
{
    cp_model *m[2];
    const char *runs[2] = {run_a, run_b};
    for (int i = 0; i < 2; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/ckpt/last.safetensors", runs[i]);
        cp_checkpoint *ck;
        TU_OK(cp_checkpoint_open(path, &ck));
        TU_OK(cp_checkpoint_load_model(ck, tu_ctx(), true, &m[i]));
        cp_checkpoint_close(ck);
    }
    ck_assert_int_eq(m[0]->count, m[1]->count);
    double worst = 0;
    for (int t = 0; t < m[0]->count; t++) {
        if (!m[0]->tensors[t].trainable) continue;
        float *a = tu_download(&m[0]->tensors[t].value), *b = tu_download(&m[1]->tensors[t].value);
        for (size_t i = 0; i < cp_tensor_numel(&m[0]->tensors[t].value); i++)
            worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
        free(a);
        free(b);
    }
    ck_assert_int_eq(m[0]->step_g, m[1]->step_g);
    cp_model_free(m[0]);
    cp_model_free(m[1]);
    return worst;
}


char *tu_run_work_path(const char *name, char **work, char **faces)
{
    if (!*work) {
        *work = tu_tempdir();
        *faces = malloc(strlen(*work) + 8);
        sprintf(*faces, "%s/faces", *work);
        TU_OK(cp_synth_write_dataset(*faces, 48, 32, 5));
    }
    char *p = malloc(strlen(*work) + strlen(name) + 2);
    sprintf(p, "%s/%s", *work, name);
    return p;
}

void tu_assert_same_training(const char *run_a, const char *run_b, int from, int to, double tol)
{
    tu_assert_losses_close(run_a, run_b, from, to, tol);
    double d = tu_param_difference(run_a, run_b);
    ck_assert_msg(d <= tol, "parameters of %s and %s differ by %.3g after step %d", run_a, run_b,
                  d, to);
}
