// ctypes entry points around fp6_llm's own CPU code (usyd-fsalab/fp6_llm,
// fp6_llm/csrc/utils/{weight_prepacking.h,weight_dequant.h,common.h}), which the test
// compiles from a checkout named by FMTLIB_FP6_LLM_SRC. Nothing of fp6_llm is in this repo.
#include <cstddef>
#include "weight_prepacking.h"
#include "weight_dequant.h"

#define PREPACK(E, M) if (e == E && m == M) { weight_matrix_prepacking_x_bit<E, M>(out, in, rows, cols); return 0; }

extern "C" int fmtlib_fp6_llm_prepack(int e, int m, int* out, int* in, size_t rows, size_t cols) {
    PREPACK(1, 1) PREPACK(2, 1) PREPACK(1, 3) PREPACK(2, 2) PREPACK(3, 2) PREPACK(2, 3) PREPACK(3, 3) PREPACK(4, 2)
    return -1;
}

extern "C" int fmtlib_fp6_llm_dequant(int e, int m, unsigned short* out, unsigned char* in, size_t rows,
                                      size_t cols, unsigned short* scales) {
    dequant_matrix_fp_eXmY_to_fp16(e, m, reinterpret_cast<half*>(out), in, rows, cols,
                                   reinterpret_cast<half*>(scales));
    return 0;
}
