#ifndef ANOMALYKIT_CKERNELS_H
#define ANOMALYKIT_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Returns 1 when the CPU supports AVX-512F, 2 when AVX2+FMA only, 0 otherwise.
int ak_cpu_level(void);
/// 1 on an Intel CPU, 0 otherwise (AMD, or a CPU the compiler's runtime does not know).
int ak_cpu_is_intel(void);



/// Row-major C = alpha·op(A)·op(B) + beta·C. Fallback when OpenBLAS is absent.
void ak_sgemm(int transA, int transB, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

// MARK: Neural-network kernels (nn_*.c). Each works on a range [i0, i1) / [p0, p1) / [c0, c1) of
// independent items so callers can split the work over cores.

/// Lowers the instruction set the NN kernels use on the calling thread (1 AVX-512, 2 AVX2+FMA,
/// 0 baseline; −1 or a level the CPU lacks restores the detected one) and returns the level now
/// in use. Every level computes the same values up to rounding; tests use this to cover each
/// variant. Other threads keep theirs, except the workers an operation of this thread is split
/// over, which inherit it.
int ak_nn_set_cpu_level(int level);

/// The calling thread's lowered level, or −1 when it uses the detected one.
int ak_nn_thread_cpu_level(void);

/// im2col over a chunk of samples x [S, C, H, W]: item i = (sample i / C, channel i % C) fills
/// rows (c, ki, kj) of col [C·kh·kw, ldcol], columns s·Ho·Wo ..< (s+1)·Ho·Wo; zero where padded.
void ak_im2col(const float *x, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
               int Ho, int Wo, float *col, long ldcol, long i0, long i1);
/// The adjoint of ak_im2col: overwrites the planes x[s, c] of the items with the sums of their
/// columns.
void ak_col2im(const float *col, long ldcol, int C, int H, int W, int kh, int kw, int sh, int sw,
               int ph, int pw, int Ho, int Wo, float *x, long i0, long i1);
/// Gathers a rectangle from planes (channels [c0, c1), `samples` samples):
/// dst[c·ld + (s·nr + i)·nc + j] = src[s·sstride + c·cstride + (row0 + i·rs)·W + col0 + j·cs]
/// for planes of H×W.
void ak_gather_rect(const float *src, long sstride, long cstride, int H, int W, int samples, int row0, int nr,
                    int rs, int col0, int nc, int cs, float *dst, long ld, long c0, long c1);
/// The adjoint of ak_gather_rect: adds src into the rectangle of dst.
void ak_scatter_add_rect(const float *src, long ld, float *dst, long sstride, long cstride, int H, int W,
                         int samples, int row0, int nr, int rs, int col0, int nc, int cs, long c0, long c1);
/// Implicit-GEMM convolution (conv_igemm.c): nonzero when the CPU has AVX-512 (its only variant;
/// independent of ak_nn_set_cpu_level).
int ak_igemm_available(void);
/// Weights [O, K] → ceil(O/8) panels [K][8], rows past O zero; `packed` holds ceil(O/8)·8·K floats.
void ak_igemm_pack_weights(const float *w, long O, long K, float *packed);
/// out [S, O, Ho·Wo] = packed weights · im2col(x [S, C, H, W]) for width stride 1 (height stride
/// sh), Wo a multiple of 8 and Ho·Wo of 16; items [i0, i1) = (sample, panel of 32 output
/// pixels), item = s·panels + panel, panels = ⌈Ho·Wo / 32⌉.
/// `workspace`: ak_igemm_conv_workspace floats of the caller's (one per concurrent call).
void ak_igemm_conv(const float *x, const float *packed, float *out, int C, int H, int W, int O, int kh, int kw,
                   int sh, int ph, int pw, int Ho, int Wo, float *workspace, long i0, long i1);
long ak_igemm_conv_workspace(int C, int H, int W, int kh, int kw, int ph, int pw);
/// Weight gradient of the convolution ak_igemm_conv computes (O a multiple of 4), over samples
/// [s0, s1) taken `group` at a time: overwrites dw [O, C·kh·kw] with Σ_s dY[s] · im2col(x[s])ᵀ.
/// `workspace`: ak_igemm_wgrad_workspace floats (64-byte aligned) of the caller's; group ≥ 1.
void ak_igemm_conv_wgrad(const float *x, const float *gy, float *dw, int C, int H, int W, int O, int kh, int kw,
                         int sh, int ph, int pw, int Ho, int Wo, long group, float *workspace, long s0, long s1);
long ak_igemm_wgrad_workspace(int C, int H, int W, int kh, int kw, int ph, int pw, int Ho, int Wo, long group);
/// Weights [O, C, T] → [T, O, C] (inverse ≠ 0: back), output rows [o0, o1).
void ak_repack_taps(const float *src, long O, long C, long T, float *dst, int inverse, long o0, long o1);
/// x viewed as [items, inner]: x[i, :] += bias[i % C].
void ak_add_channel_bias(float *x, const float *bias, long C, long inner, long i0, long i1);
/// out[c] = Σ_{n, i} x[n, c, i] for x viewed as [outer, C, inner], channels [c0, c1).
void ak_channel_sum(const float *x, long outer, long C, long inner, float *out, long c0, long c1);

/// Training-mode batch norm of channels [c0, c1) of x [outer, C, inner]: batch mean and biased
/// variance, y = (x − mean)·invstd·weight + bias (weight/bias may be NULL), ReLU when relu ≠ 0.
void ak_bn_forward_train(const float *x, long outer, long C, long inner, const float *weight,
                         const float *bias, float eps, int relu, float *y, float *mean_out,
                         float *invstd_out, float *var_out, long c0, long c1);
/// y = x·scale[c] + shift[c] (then ReLU when relu ≠ 0) over planes [i0, i1) of [items, inner].
void ak_bn_apply(const float *x, long C, long inner, const float *scale, const float *shift, int relu,
                 float *y, long i0, long i1);
/// Batch-norm backward for channels [c0, c1). With batch_stats the mean/invstd were batch
/// statistics (training) and dx gets the closed form (1/m)·w·invstd·(m·dy − Σdy − x̂·Σdy·x̂);
/// otherwise dx = dy·w·invstd. dx, dweight, dbias may each be NULL. relu ≠ 0 masks dy by the
/// fused ReLU's output.
void ak_bn_backward(const float *x, const float *dy, long outer, long C, long inner, const float *mean,
                    const float *invstd, const float *weight, const float *bias, int relu, int batch_stats,
                    float *dx, float *dweight, float *dbias, long c0, long c1);

/// Max pooling of planes [p0, p1) with per-row/column windows [start, end) clipped to the input;
/// idx receives the flat in-plane index of each maximum (NaN wins, as in PyTorch).
void ak_maxpool2d(const float *x, int H, int W, int Ho, int Wo, const int32_t *hs, const int32_t *he,
                  const int32_t *ws, const int32_t *we, float *y, int32_t *idx, long p0, long p1);
/// Max pooling with 2×2 windows, stride 2, no padding.
void ak_maxpool2x2(const float *x, int H, int W, int Ho, int Wo, float *y, int32_t *idx, long p0, long p1);
/// dx (overwritten) gets dy added at the saved indices.
void ak_maxpool2d_backward(const float *dy, const int32_t *idx, int H, int W, int Ho, int Wo, float *dx,
                           long p0, long p1);
/// Average pooling: y = Σ window · rh[oh] · rw[ow].
void ak_avgpool2d(const float *x, int H, int W, int Ho, int Wo, const int32_t *hs, const int32_t *he,
                  const int32_t *ws, const int32_t *we, const float *rh, const float *rw, float *y, long p0,
                  long p1);
void ak_avgpool2d_backward(const float *dy, int H, int W, int Ho, int Wo, const int32_t *hs,
                           const int32_t *he, const int32_t *ws, const int32_t *we, const float *rh,
                           const float *rw, float *dx, long p0, long p1);

/// y = max(a + b, 0) and dx = (y > 0 ? dy : 0) over [i0, i1).
void ak_add_relu(const float *a, const float *b, float *y, long i0, long i1);
void ak_relu_backward(const float *dy, const float *y, float *dx, long i0, long i1);
/// Element-wise ops without transcendental functions (CPUBackend.unary/binary), same values as
/// the Swift expressions at every CPU level. Unary: y[i] = op(x[i]; a, b) over [i0, i1).
enum {
    AK_UNARY_NEG, AK_UNARY_ABS, AK_UNARY_RELU, AK_UNARY_SQUARE, AK_UNARY_RECIPROCAL, AK_UNARY_LEAKY_RELU,
    AK_UNARY_CLAMP, AK_UNARY_ADD_SCALAR, AK_UNARY_MUL_SCALAR, AK_UNARY_POSITIVE_MASK, AK_UNARY_INSIDE_MASK,
    AK_UNARY_SIGN
};
void ak_unary(int op, float a, float b, const float *x, float *y, long i0, long i1);
/// o[i] = op(a[i·sa], b[i·sb]) for i < n, strides sa, sb ∈ {0, 1}.
enum {
    AK_BINARY_ADD, AK_BINARY_SUB, AK_BINARY_MUL, AK_BINARY_DIV, AK_BINARY_MAXIMUM, AK_BINARY_MINIMUM,
    AK_BINARY_EQUAL, AK_BINARY_NOT_EQUAL, AK_BINARY_LESS, AK_BINARY_LESS_EQUAL, AK_BINARY_GREATER,
    AK_BINARY_GREATER_EQUAL
};
void ak_binary(int op, const float *a, int sa, const float *b, int sb, float *o, long n);
/// Reduction of src [rows, inner] over rows into dst [inner], columns [i0, i1) (rows ≥ 1);
/// op 0 sum, 1 max, 2 min.
void ak_reduce_rows(int op, const float *src, long rows, long inner, float *dst, long i0, long i1);
/// One Adam step over elements [i0, i1) (see Layers' Adam.adamStep for the scalars).
void ak_adam(float *p, const float *g, float *m, float *v, float shrink, float l2, float weight, float b2,
             float keep_square, float neg_step, float root_correction, float eps, long i0, long i1);

/// Nearest up-sampling of planes [p0, p1) by integer factors (sh, sw), and its adjoint.
void ak_upsample_nearest(const float *x, int H, int W, int sh, int sw, float *y, long p0, long p1);
void ak_upsample_nearest_backward(const float *dy, int H, int W, int sh, int sw, float *dx, long p0, long p1);
/// Separable linear resampling: y[oh, ow] mixes rows h0/h1 (weights 1−lh, lh) and columns w0/w1
/// (weights 1−lw, lw); the backward scatters into dx (overwritten).
void ak_resample_linear(const float *x, int H, int W, int Ho, int Wo, const int32_t *h0, const int32_t *h1,
                        const float *lh, const int32_t *w0, const int32_t *w1, const float *lw, float *y,
                        long p0, long p1);
void ak_resample_linear_backward(const float *dy, int H, int W, int Ho, int Wo, const int32_t *h0,
                                 const int32_t *h1, const float *lh, const int32_t *w0, const int32_t *w1,
                                 const float *lw, float *dx, long p0, long p1);
#endif
