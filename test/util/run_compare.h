/* Comparing two training runs' folders: log.csv losses and the trainable
 * parameters of ckpt/last.safetensors (data-parallel tests). */
#ifndef CP_TEST_RUN_COMPARE_H
#define CP_TEST_RUN_COMPARE_H

/* log.csv's L_rec, L_adv, L_G, L_D, D(x), D(y) per step (rows in step
 * order from step 1); returns the rows read. */
int tu_read_losses(const char *run_dir, double v[][6], int max);
/* Steps from..to (1-based) of both logs within `rel` relative. */
void tu_assert_losses_close(const char *run_a, const char *run_b, int from, int to, double rel);
/* Largest absolute difference between the trainable parameters of the
 * two runs' last checkpoints (which must be at the same step). */
double tu_param_difference(const char *run_a, const char *run_b);
/* The two runs trained the same model: losses of steps from..to and the
 * last checkpoints' parameters within `tol` (relative for losses,
 * absolute for parameters). */
void tu_assert_same_training(const char *run_a, const char *run_b, int from, int to, double tol);

/* A per-process work folder holding `faces`, 48 synthetic 32 px faces made
 * on first use: `*work` and `*faces` are set then. Returns work/name (free
 * it). */
char *tu_run_work_path(const char *name, char **work, char **faces);

#endif
