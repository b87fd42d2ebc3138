/* clinpaint: line charts as SVG (the loss curves of a run, loss.svg: L_G,
 * L_rec and L_D against the iteration, as in the paper's Figure 2). */
#ifndef CLINPAINT_PLOT_H
#define CLINPAINT_PLOT_H

#include <stddef.h>

#include "clinpaint/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* At most this many points are drawn per series: longer series are split
 * into this many consecutive buckets of (nearly) equal size and each bucket
 * is drawn as the mean of its x and of its y. */
#define CP_PLOT_MAX_POINTS 2000

/* One line of the chart: n points (x[i], y[i]). Points with a NaN or
 * infinite coordinate are skipped. x == NULL plots against the index
 * 0..n-1. name == NULL shows "series <i>"; color is an SVG colour such as
 * "#1f77b4", or NULL for the next colour of a built-in palette. The arrays
 * are only read during the call. */
typedef struct cp_plot_series {
    const char *name;
    const double *x, *y;
    size_t n;
    const char *color;
} cp_plot_series;

/* Writes a line chart of `count` series to `path` as SVG: one line per
 * series, a legend, the title and axis labels (each may be NULL for none),
 * ticks at round values (1, 2, 5 × 10^k). The y axis is logarithmic when all
 * drawn values are positive and span more than two decades (max/min > 100);
 * the y label then ends in "(log scale)". With no finite point at all the
 * chart is drawn empty with a "no data yet" note (not an error).
 * Series with few points also get a marker per point.
 *
 * The file is written to a temporary file next to `path` and renamed onto
 * it, so a reader never sees a partial chart.
 * CP_ERR_INVALID_ARGUMENT for a NULL/empty path, count < 0, or a series with
 * n > 0 and no y; CP_ERR_IO when the file cannot be written. */
cp_status cp_plot_svg_write(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const cp_plot_series *s, int count);

#ifdef __cplusplus
}
#endif
#endif
