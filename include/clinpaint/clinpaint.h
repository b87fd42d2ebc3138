/* clinpaint: the public C API (umbrella header). */
#ifndef CLINPAINT_H
#define CLINPAINT_H

#include "clinpaint/status.h"
#include "clinpaint/runtime.h"
#include "clinpaint/tensor.h"

#endif
