/* Shared by `unmask`, `demo --unmask`, `train --task detect` and `eval
 * --task detect|unmask`: the unmask engine, the detector's progress display,
 * and the entry points of those tasks. */
#ifndef CLINPAINT_TOOL_UNMASK_CLI_H
#define CLINPAINT_TOOL_UNMASK_CLI_H
#include <stdbool.h>

#include "clinpaint/unmask.h"

typedef struct unmask_job {
    const char *cmd; /* for messages: "unmask", "demo" */
    const char *detector, *model, *out_dir;
    float threshold;
    int dilate; /* < 0: cp_unmask_default_dilation of the context encoder's size */
    int batch;
    bool show_mask;
    bool have_face;  /* crop around face_box instead of the centre */
    int face_box[4]; /* X, Y, W, H in photo pixels */
} unmask_job;

/* Runs the job on `ctx` (NULL: creates one for `device`): prints a line per
 * image on stdout. Returns the exit code. */
int unmask_run(const unmask_job *j, const char *const *inputs, int input_count, cp_context *ctx,
               const char *device);

/* The detector trainer's progress on stderr (a \r line on a terminal, a
 * line every 10 s otherwise), epoch metrics and messages. */
typedef struct detect_progress {
    bool tty, line_open;
    double last_print;
} detect_progress;
void detect_progress_attach(cp_detect_train_config *cfg, detect_progress *p, bool tty);
void detect_progress_finish_line(detect_progress *p);

int cmd_train_detect(int argc, char **argv);                  /* cmd_train_detect.c */
int cmd_eval_task(int argc, char **argv, const char *task);  /* cmd_eval_unmask.c */
int cmd_demo_unmask(int argc, char **argv);                   /* cmd_demo_unmask.c */
#endif
