/* clinpaint: the public C API (umbrella header). */
#ifndef CLINPAINT_H
#define CLINPAINT_H

#include "clinpaint/status.h"
#include "clinpaint/files.h"
#include "clinpaint/warning.h"
#include "clinpaint/runtime.h"
#include "clinpaint/tensor.h"
#include "clinpaint/rng.h"
#include "clinpaint/ops.h"
#include "clinpaint/graph.h"
#include "clinpaint/layers.h"
#include "clinpaint/model.h"
#include "clinpaint/checkpoint.h"
#include "clinpaint/safetensors.h"
#include "clinpaint/image.h"
#include "clinpaint/dataset.h"
#include "clinpaint/mask.h"
#include "clinpaint/synth.h"
#include "clinpaint/metrics.h"
#include "clinpaint/plot.h"
#include "clinpaint/inpaint.h"
#include "clinpaint/train.h"
#include "clinpaint/train_step.h"
#include "clinpaint/dist.h"
#include "clinpaint/evaluate.h"
#include "clinpaint/image_files.h"
#include "clinpaint/detector.h"
#include "clinpaint/unmask.h"

#endif
