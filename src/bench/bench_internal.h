/* Internal: pieces shared by the benchmark's files. */
#ifndef CP_BENCH_INTERNAL_H
#define CP_BENCH_INTERNAL_H

/* A fixed batch: uniform noise images in [-1, 1) and the centre-square
 * mask, so every run times the same work. */
void cp_bench_fill_batch(float *x, float *m, int batch, int s);

#endif
