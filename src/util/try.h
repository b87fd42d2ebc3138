/* Internal: propagating a failed cp_status (the message is already set). */
#ifndef CP_UTIL_TRY_H
#define CP_UTIL_TRY_H

#include "clinpaint/status.h"

/* Propagates a failed cp_status unchanged (the message is already set). */
#define CP_TRY(expr)                                                         \
    do {                                                                     \
        cp_status cp_st_ = (expr);                                           \
        if (cp_st_ != CP_OK) return cp_st_;                                  \
    } while (0)

#define CP_TRY_GOTO(expr, label)                                             \
    do {                                                                     \
        st = (expr);                                                         \
        if (st != CP_OK) goto label;                                         \
    } while (0)

#endif
