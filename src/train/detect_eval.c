/* `clinpaint eval --task detect`: the detector on a split of a maskified
 * folder (clinpaint/unmask.h). */
#include "backend/opencl/runtime/check.h"
#include "train/detect_internal.h"

cp_status cp_detect_evaluate(cp_detector *d, const char *data_dir, cp_split split,
                             float threshold, uint64_t max_images, int threads,
                             cp_detect_metrics *out)
{
    cp_detect_data data;
    CP_TRY(cp_detect_data_open(data_dir, split, d->cfg.size, false, &data));
    cp_detector_graph inf;
    cp_status st = cp_detector_build_infer(d, 16, &inf);
    if (st == CP_OK) {
        cp_plan_options po = cp_plan_defaults();
        st = cp_graph_plan(inf.graph, &po);
        if (st == CP_OK) st = cp_detect_evaluate_with(d, &inf, &data, threshold, max_images, threads, out);
        cp_detector_graph_free(&inf);
    }
    cp_detect_data_free(&data);
    return st;
}
