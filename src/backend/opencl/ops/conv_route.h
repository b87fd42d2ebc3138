/* Internal: the per-device table of convolution routes (conv_route.c). */
#ifndef CP_OPS_CONV_ROUTE_H
#define CP_OPS_CONV_ROUTE_H

#include "clinpaint/tune.h"

/* Records the choice for a layer shape (replacing any earlier one). */
cp_status cp_conv_route_record(cp_context *ctx, const cp_conv_layer *l,
                               const cp_conv_choice *c);
/* While set, every layer on ctx's device takes *c (measurements); NULL clears. */
void cp_conv_route_override(cp_context *ctx, const cp_conv_choice *c);

/* First use: called by cp_conv_route_for for a shape it has no choice for.
 * With `measure` (while the device's budget lasts) it measures and fills
 * *c, else it keeps the default *c (saved, so that later runs take the
 * same routes); on failure the default is used. */
typedef cp_status (*cp_conv_first_use_fn)(cp_context *ctx, const cp_conv_layer *l,
                                          cp_conv_choice *c, bool measure);
void cp_conv_route_first_use(cp_context *ctx, double budget_seconds, cp_conv_first_use_fn fn);

#endif
