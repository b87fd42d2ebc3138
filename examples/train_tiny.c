/* Trains the `tiny` preset for a few steps on a folder of images (make one
 * with `clinpaint synth --count 64 --size 64 faces`), then fills the
 * centre of one image with the trained generator. Public API only.
 * Usage: train_tiny DATA_DIR RUN_DIR IMAGE OUT.png */
#include <stdio.h>
#include <stdlib.h>

#include <clinpaint/clinpaint.h>

static int fail(const char *what)
{
    fprintf(stderr, "train_tiny: %s: %s\n", what, cp_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: train_tiny DATA_DIR RUN_DIR IMAGE OUT.png\n");
        return 2;
    }
    cp_context *ctx;
    if (cp_context_create(NULL, &ctx)) return fail("device");
    cp_train_config c = cp_train_config_defaults();
    if (cp_model_config_preset("tiny", &c.model)) return fail("preset");
    c.data_dir = argv[1];
    c.out_dir = argv[2];
    c.overwrite = true;  /* the example may run again into the same folder */
    c.max_steps = 4;     /* a few iterations: enough to show the whole path */
    c.eval_max_images = 4;
    cp_train_result r;
    if (cp_train(ctx, &c, &r)) return fail("training");
    printf("trained %llu steps, checkpoint %s\n", (unsigned long long)r.step, r.last_checkpoint);

    cp_checkpoint *ck;
    cp_model *m;
    cp_inpainter *ip;
    if (cp_checkpoint_open(r.last_checkpoint, &ck)) return fail("checkpoint");
    if (cp_checkpoint_load_model(ck, ctx, false, &m)) return fail("loading the model");
    cp_checkpoint_close(ck);
    if (cp_inpainter_create(m, 1, false, 0.0f, &ip)) return fail("inpainter");
    int S = m->cfg.size;
    float *x = malloc(sizeof(float) * 3 * S * S), *mask = malloc(sizeof(float) * S * S),
          *y = malloc(sizeof(float) * 3 * S * S);
    cp_image img, out;
    if (!x || !mask || !y) return fail("memory");
    if (cp_image_load(argv[3], &img) || cp_image_to_chw(&img, S, x)) return fail(argv[3]);
    for (int i = 0; i < S * S; i++) { /* the centre square is missing */
        int row = i / S, col = i % S;
        mask[i] = row >= S / 4 && row < 3 * S / 4 && col >= S / 4 && col < 3 * S / 4;
    }
    if (cp_inpainter_run(ip, 1, x, mask, y, NULL, NULL)) return fail("inpainting");
    if (cp_chw_to_image(y, S, S, &out) || cp_image_write_png(argv[4], &out)) return fail(argv[4]);
    printf("inpainted %s -> %s\n", argv[3], argv[4]);
    cp_image_free(&img);
    cp_image_free(&out);
    free(x);
    free(mask);
    free(y);
    cp_inpainter_free(ip);
    cp_model_free(m);
    cp_context_free(ctx);
    return 0;
}
