/* Internal: issuing a warning: cp_warn, public in clinpaint/warning.h. */
#ifndef CP_WARNING_INTERNAL_H
#define CP_WARNING_INTERNAL_H

#include "clinpaint/warning.h"

#endif
