/* The kind of work of each op (graph/op_info.h). */
#include "graph/op_info.h"
#include "graph/graph_internal.h"

#include <string.h>

static cp_op_info info_of(cp_op op)
{
    cp_op_info i = {CP_OP_CLASS_ELEMENTWISE, false};
    switch (op) {
    case CP_OP_INPUT: case CP_OP_PARAM: case CP_OP_BUFFER: case CP_OP_RESHAPE:
    case CP_OP_STOP_GRAD: case CP_OP_ELU_FUSED: /* computed by its conv */
    case CP_OP_ELU_DX_FUSED: /* computed by the dx before it */
        i.op_class = CP_OP_CLASS_FREE;
        break;
    case CP_OP_CONV2D: case CP_OP_CONV_T2D: case CP_OP_DENSE:
        i.op_class = CP_OP_CLASS_GEMM;
        break;
    case CP_OP_CONV2D_DX: case CP_OP_CONV2D_DW: case CP_OP_CONV_T2D_DX: case CP_OP_CONV_T2D_DW:
    case CP_OP_DENSE_DX: case CP_OP_DENSE_DW:
        i.op_class = CP_OP_CLASS_GEMM;
        i.backward = true;
        break;
    case CP_OP_BIAS_GRAD: case CP_OP_MAXPOOL2_DX: case CP_OP_ELU_DX: case CP_OP_TANH_DX:
    case CP_OP_SIGMOID_DX: case CP_OP_CONCAT_DX: case CP_OP_COMPOSITE_DG: case CP_OP_BN_DX:
    case CP_OP_BN_DGAMMA: case CP_OP_LOSS_REC_DG: case CP_OP_LOSS_BCE_DT: case CP_OP_ADAM:
    case CP_OP_LOSS_DICE_DT:
        i.backward = true;
        break;
    default: /* forward element-wise ops */
        break;
    }
    return i;
}

bool cp_op_info_named(const char *op_name, cp_op_info *out)
{
    for (int op = 0; op < CP_OP_COUNT; op++)
        if (strcmp(cp_op_name((cp_op)op), op_name) == 0) {
            *out = info_of((cp_op)op);
            return true;
        }
    return false;
}

cp_op_info cp_graph_node_info(const cp_graph *g, int i) { return info_of(g->nodes[i]->op); }

double cp_graph_node_bytes(const cp_graph *g, int i)
{
    const cp_node *n = g->nodes[i];
    if (n->op == CP_OP_ADAM) return 4.0 * 7.0 * (double)cp_node_numel(n->src[0]);
    double b = (double)cp_node_numel(n);
    for (int s = 0; s < n->nsrc; s++) b += (double)cp_node_numel(n->src[s]);
    return 4.0 * b;
}
