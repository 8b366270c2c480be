/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Engine internals shared by the engine's own files and its op tests. Not installed. */
#ifndef HEED_PRIVATE_H
#define HEED_PRIVATE_H

#include "heed-engine.h"
#include "heed-shader-registry.h"
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

const char *heed_vk_result_name (VkResult r);
void heed_log (HeedLogLevel level, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Checks a Vulkan call; on failure sets *error naming the call, its VkResult and the place,
 * and jumps to the function's single `error:` label. */
#define HEED_VK(fn, args) HEED_VK_RESULT (#fn, fn args)
/* The same for a VkResult already in hand (a call made under a lock). */
#define HEED_VK_RESULT(fn_name, result)                                                            \
  do {                                                                                             \
    VkResult heed_vk_r_ = (result);                                                                \
    if (heed_vk_r_ != VK_SUCCESS) {                                                                \
      g_set_error (error, HEED_ERROR, HEED_ERROR_VULKAN, "%s failed: %s (%s:%d)", fn_name,         \
                   heed_vk_result_name (heed_vk_r_), __FILE__, __LINE__);                          \
      goto error;                                                                                  \
    }                                                                                              \
  } while (0)

/* ---- shaders and the kernel table (shaders.c, the generated registry) ---- */

typedef struct {
  const char *name;
  const uint32_t *code;
  gsize size;
  guint n_bindings;
  guint push_size; /* bytes, read from the shader's push_constant block at build time */
  /* bindings read as uniform texel buffers (vec4 texels of float32), one bit each; the others
   * are storage buffers. From the variant's -DTEXEL_BINDINGS=MASK in the registry. */
  guint texel_bindings;
  guint uniform_bindings; /* the same for uniform buffers (-DUNIFORM_BINDINGS=MASK) */
  /* uniform texel buffers of uvec4 texels (usamplerBuffer: raw 32-bit words, such as a
   * frame's bytes), from -DUINT_TEXEL_BINDINGS=MASK */
  guint uint_texel_bindings;
  /* gemm.comp's register-tiled variants: the rows of C an invocation computes (-DTM, else 16) */
  guint tile_rows;
} HeedShaderInfo;

/* A binding's descriptor type, from the shader's masks. */
VkDescriptorType heed_shader_binding_type (const HeedShaderInfo *shader, guint binding);

/* shaders/registry.txt, generated into heed-shader-registry.c */
extern const HeedShaderInfo heed_shaders[HEED_SHADER_COUNT];

/* One op's kernel: the shader variant and its workgroup size (specialisation constant 0). */
typedef struct {
  HeedShaderId shader;
  guint local_size;
} HeedKernel;

/* The kernels chosen for a device, once, from what it reports and has enabled: every op's
 * variant, its workgroup size, and the padding its operands need. A plan copies its device's
 * table and everything it allocates and records follows from that copy; tests build other
 * tables to run every variant on one device. */
typedef struct {
  HeedKernel gemm;    /* any K */
  HeedKernel gemm_k4; /* K, lda and A's offsets multiples of 4: A read as vec4 */
  /* gemm_k4 with B given transposed (B^T row-major, its offsets and stride multiples of 4), for
   * Q.K^T without a copy of K; shader HEED_SHADER_COUNT where the table has none */
  HeedKernel gemm_k4_bt;
  /* gemm_k4 with the LayerNorm of A's rows folded in (heed_op_gemm_layernorm), where the table
   * has one (lavapipe's: it saves a dispatch, and a dispatch costs a quarter of a millisecond
   * there); HEED_SHADER_COUNT elsewhere, where the LayerNorm runs on its own */
  HeedKernel gemm_k4_ln;
  /* gemm_k4 applying the row softmax of A as it reads it (P.V from raw scores, no softmax
   * dispatch), where the table has one (lavapipe's); HEED_SHADER_COUNT elsewhere */
  HeedKernel gemm_k4_softmax;
  /* attention in one dispatch (Q.K^T, an online softmax and P.V; shaders/attention.comp) where
   * the probabilities are not an output, heads up to 64 wide: lavapipe's; HEED_SHADER_COUNT
   * elsewhere */
  HeedKernel attention;
  /* the same adding a bias to the scores: attention_bias.comp's variants on lavapipe, the same
   * kernel as `attention` on GPUs (a push constant says whether there is a bias) */
  HeedKernel attention_bias;
  /* whether a frame's whole biased attention (BEiT's) runs in attention_bias rather than in the
   * GEMMs writing scores: on GPUs; on lavapipe the kernel pays only over Swin's small windows,
   * several a frame (docs/benchmarks.md) */
  gboolean attention_bias_frames;
  /* the few query rows that reach an output (the last block's class rows, attention pooling's
   * query), a batch's every frame in one dispatch with row 0's probabilities written
   * (shaders/attention_rows.comp, no subgroup operations: every table); HEED_SHADER_COUNT in
   * tables that tests build without it */
  HeedKernel attention_rows;
  /* whether it also takes a last block's every query row where the map needs their
   * probabilities (an average-pooled ViT's, Swin's): on GPUs; on lavapipe the GEMMs writing the
   * scores a frame at a time (docs/benchmarks.md) */
  gboolean attention_rows_all;
  /* the fp16-matmul mode's GEMMs (B halves, A rounded to half, float32 sums), any K and K4 as
   * gemm and gemm_k4: cooperative matrices (tensor cores) where heed enabled them */
  HeedKernel gemm_half, gemm_half_k4;
  guint row_align; /* rows every GEMM A operand (and C) is padded to: TM in gemm.comp */
  guint col_align; /* columns every B operand is padded to: lanes x TN */
  HeedKernel layernorm, layernorm_rows; /* any rows; a subgroup per 16-byte-aligned row */
  HeedKernel softmax, softmax_rows;
  guint rows_per_group; /* rows a workgroup of the *_rows kernels owns */
  /* the preprocessing reads the frame and its rows as texels (lavapipe) where the buffers'
   * texel views cover them (the compositor's frame reads, tried the same way, gained nothing) */
  gboolean preprocess_texels;
  /* the compositor draws 4-byte formats and I420 in 64-bit words (lavapipe with shaderInt64:
   * a store there is a loop over the lanes, one element each) */
  gboolean composite_pairs;
  guint small_lanes; /* element-wise kernels (patchify, copies, preprocess, composite) */
} HeedKernels;

/* Where the table's GEMMs are lavapipe's 16-lane ones, their twins taking 40 rows a workgroup
 * instead of 32 when a model's rows pad less to 40 (DeiT's 197 tokens: 200 rows against 224; a
 * row costs about the same in either, so the padding saved is time saved: docs/benchmarks.md),
 * and row_align with them; any other table as it is. */
void heed_kernels_fit_rows (HeedKernels *k, guint rows);

/* ---- device ---- */

typedef struct {
  VkPipeline pipeline;
  VkPipelineLayout layout;
  VkDescriptorSetLayout set_layout;
  const HeedShaderInfo *shader;
  guint local_size;
} HeedPipeline;

struct _HeedDevice {
  gint ref_count;
  VkInstance instance;
  VkPhysicalDevice physical_device;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  gboolean owned; /* instance and device were created by us */
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem_props;

  void (*queue_lock) (void *user_data);
  void (*queue_unlock) (void *user_data);
  void *lock_data;
  GMutex queue_mutex; /* guards queue when we own it */

  /* one-time transfers (heed_buffer_upload/download): the pool and its command buffers are
   * used only with command_mutex held, as Vulkan requires of a pool shared by threads */
  VkCommandPool command_pool;
  GMutex command_mutex;

  GMutex pipeline_mutex;
  GHashTable *pipelines; /* key: shader | specialization << 8 | local size << 16 */

  /* faults injected by the tests (HEED_FAULT; see inject_faults in device.c) */
  guint fail_allocation; /* the Nth memory allocation fails (0: none) */
  guint lose_at_submit;  /* the device is lost at its Nth submission (0: never) */
  gint allocations, submissions;
  gint lost; /* a call returned VK_ERROR_DEVICE_LOST: nothing will run on it again */

  /* shaderInt64 enabled (heed's own devices, where supported; never assumed of an imported
   * one): lavapipe's GEMMs then store C in 64-bit pairs */
  gboolean int64;
  /* VK_NV_cooperative_matrix with halves enabled (heed's own devices, where supported) */
  gboolean coopmat;
  HeedKernels kernels; /* chosen in device_setup, never changed after */
  guint subgroup_size;
  gboolean has_timestamps;
  double timestamp_period_ns;
};

/* Rows and columns a GEMM operand must be padded to. */
static inline guint
heed_round_up (guint v, guint to)
{
  return (v + to - 1) / to * to;
}

HeedPipeline *heed_device_get_pipeline (HeedDevice *device, HeedShaderId shader, guint local_size,
                                        guint specialization, GError **error);
/* A command pool for one user (a recorder, a run's copies): Vulkan requires a pool and its
 * command buffers to be used by one thread at a time, so no pool is shared. */
VkCommandPool heed_command_pool_new (HeedDevice *device, GError **error);
VkCommandBuffer heed_command_buffer_new (HeedDevice *device, VkCommandPool pool, GError **error);
void heed_device_lock_queue (HeedDevice *device);
void heed_device_unlock_queue (HeedDevice *device);
/* Submits cmds under the queue lock, signalling fence. */
VkResult heed_device_submit (HeedDevice *device, const VkCommandBuffer *cmds, guint n,
                             VkFence fence);
/* Returns r, noting a lost device (heed_device_is_lost) when r says so. */
VkResult heed_device_note_result (HeedDevice *device, VkResult r);
/* heed_device_submit with `fence` reset first, then waited for: the work is done on TRUE. */
gboolean heed_device_submit_and_wait (HeedDevice *device, const VkCommandBuffer *cmds, guint n,
                                      VkFence fence, GError **error);
/* vkAllocateMemory through the injected faults (HEED_FAULT, engine/device.c) */
VkResult heed_device_allocate_memory (HeedDevice *device, const VkMemoryAllocateInfo *info,
                                      VkDeviceMemory *memory);

/* ---- buffers ---- */

typedef struct {
  HeedDevice *device;
  VkBuffer buffer;
  VkDeviceMemory memory;
  VkDeviceSize size;
  void *mapped;          /* non-NULL when host-visible */
  VkBufferView texels;   /* the whole buffer as RGBA32F texels (RGBA16F when half), for
                          * texel-buffer bindings (up to the device's maxTexelBufferElements: see
                          * heed_buffer_texels_cover) */
  VkBufferView texels_u; /* the same as RGBA32UI texels, for uvec4 texel-buffer bindings */
  gboolean half;         /* IEEE halves (fp16 GEMM weights): read by the *_bh kernels */
  /* fp16-matmul weights: the GEMMs reading them as B round A to half too (the table's gemm_half
   * kernels) */
  gboolean half_operands;
} HeedBuffer;

/* A zero-filled storage buffer of `size` bytes. host_visible buffers are mapped and coherent;
 * others are device-local where the device has such memory. */
HeedBuffer *heed_buffer_new (HeedDevice *device, VkDeviceSize size, gboolean host_visible,
                             GError **error);
/* A device-local buffer of n IEEE halves rounded from values (to nearest even), for GEMM
 * weights stored in fp16: its texel view converts them back to float32 on every read. */
HeedBuffer *heed_buffer_new_half (HeedDevice *device, const float *values, gsize n, GError **error);
void heed_buffer_destroy (HeedBuffer **buffer);
/* Replaces *buffer with a zero-filled one of the same size in host-visible or device-local
 * memory; on failure *buffer stays as it was. */
gboolean heed_buffer_renew (HeedBuffer **buffer, gboolean host_visible, GError **error);
/* TRUE when the buffer's texel view reaches all of it (a device may allow as few as 65,536
 * texels, 1 MiB); kernels that read texels on every device check it and fall back. */
gboolean heed_buffer_texels_cover (const HeedBuffer *buffer);
/* Copies between host memory and a buffer of any kind (through a staging buffer if needed). */
gboolean heed_buffer_upload (HeedBuffer *buffer, VkDeviceSize offset, const void *data,
                             VkDeviceSize size, GError **error);
gboolean heed_buffer_download (HeedBuffer *buffer, VkDeviceSize offset, void *data,
                               VkDeviceSize size, GError **error);

/* ---- recording ---- */

/* A command buffer (from a pool of its own) with the descriptor sets of its dispatches,
 * recorded once with the kernels of one table and submitted any number of times. */
typedef struct {
  HeedDevice *device;
  HeedKernels kernels;
  VkCommandPool command_pool;
  VkCommandBuffer cmd;
  VkDescriptorPool pool;
  VkFence fence;
  VkQueryPool queries;
  guint max_dispatches;
  GArray *timings; /* HeedOpTiming per dispatch */
  gboolean profile;
  gboolean pending; /* submitted and not yet waited for */
} HeedRecorder;

/* kernels NULL: the device's own table. */
HeedRecorder *heed_recorder_new (HeedDevice *device, const HeedKernels *kernels,
                                 guint max_dispatches, gboolean profile, GError **error);
void heed_recorder_destroy (HeedRecorder **rec);
/* One dispatch of kernel k with the given specialization (variant flags). */
gboolean heed_recorder_dispatch (HeedRecorder *rec, HeedKernel k, guint specialization,
                                 HeedBuffer *const *bindings, const void *push, guint push_size,
                                 guint groups_x, guint groups_y, guint groups_z, const char *name,
                                 const char *kind, double flops, GError **error);
/* A buffer copy between the dispatches before and after it (barriers on both sides) */
void heed_recorder_copy (HeedRecorder *rec, HeedBuffer *src, VkDeviceSize src_off, HeedBuffer *dst,
                         VkDeviceSize dst_off, VkDeviceSize size);
gboolean heed_recorder_end (HeedRecorder *rec, GError **error);
/* Submits the recording, after `first` and before `last` (either may be VK_NULL_HANDLE) in
 * the same submission, and returns at once; heed_recorder_wait blocks until the device is
 * done and fills the timings when profiling. heed_recorder_submit does both. */
gboolean heed_recorder_submit_async (HeedRecorder *rec, const VkCommandBuffer *first, guint n_first,
                                     VkCommandBuffer last, GError **error);
gboolean heed_recorder_wait (HeedRecorder *rec, GError **error);
gboolean heed_recorder_is_done (HeedRecorder *rec);
gboolean heed_recorder_submit (HeedRecorder *rec, GError **error);

/* ---- ops (ops.c) ----
 * A matrix operand: float offset, row stride (ld) and stride between batches, in elements. */
typedef struct {
  HeedBuffer *buf;
  guint off, ld, batch;
} HeedMat;

enum {
  HEED_EPI_BIAS = 1,
  HEED_EPI_GELU = 2,
  HEED_EPI_ACCUMULATE = 4,
  HEED_EPI_QUICK_GELU = 8, /* x * sigmoid (1.702 x), OpenAI CLIP's */
  HEED_EPI_GELU_TANH = 16, /* GELU's tanh approximation (SigLIP's, PyTorch's approximate="tanh") */
  HEED_EPI_RMS = 32,       /* heed_op_gemm_layernorm: the folded norm is RMSNorm */
};

/* heed_op_layernorm's modes (its shader's specialization), bits: */
typedef enum {
  HEED_NORM_LAYER = 0, /* LayerNorm */
  HEED_NORM_RMS = 1,   /* RMSNorm: x / sqrt (mean (x^2) + eps) * gamma + beta (AIMv2's) */
  HEED_NORM_ADD = 2,   /* y += the result, instead of y = */
} HeedNormMode;

/* The norm every LayerNorm of a model is (its blocks', its final one, its patch embedding's) */
static inline HeedNormMode
heed_norm_mode (const HeedModelConfig *c)
{
  return c->rms_norm ? HEED_NORM_RMS : HEED_NORM_LAYER;
}

/* ... and the bit heed_op_gemm_layernorm's epilogue takes for it */
static inline guint
heed_norm_epilogue (const HeedModelConfig *c)
{
  return c->rms_norm ? HEED_EPI_RMS : 0;
}

/* The MLP's activation as a GEMM epilogue: GELU, QuickGELU or GELU's tanh approximation; none
 * for SwiGLU, whose gate is an op of its own (heed_op_swiglu) */
static inline guint
heed_mlp_activation (const HeedModelConfig *c)
{
  return c->swiglu       ? 0
         : c->quick_gelu ? HEED_EPI_QUICK_GELU
         : c->gelu_tanh  ? HEED_EPI_GELU_TANH
                         : HEED_EPI_GELU;
}

/* fc1's outputs: the MLP's hidden width, or with SwiGLU twice that (gate, then value) */
static inline guint
heed_fc1_width (const HeedModelConfig *c)
{
  return c->mlp_hidden * (c->swiglu ? 2 : 1);
}

/* lavapipe's shuffle GEMMs store C as floats or, where the device has shaderInt64, as 64-bit
 * pairs of floats: the twin of a variant storing the other way (itself where it has none) */
HeedShaderId heed_gemm_with_pairs (HeedShaderId shader);
HeedShaderId heed_gemm_without_pairs (HeedShaderId shader);
/* The kernel a GEMM of M rows a batch runs: for 8 rows or fewer, the twin of a 16- or 8-lane
 * shuffle GEMM (plain or LayerNorm) taking 8 rows a workgroup, not 32 or 40 of which all but a few
 * are padding (a class-token model's last block after its attention, and the head, run a row or
 * two a frame); otherwise, or where it has no twin, the shader itself */
HeedShaderId heed_gemm_for_rows (HeedShaderId shader, guint M);

/* C = epi(alpha * A.B), batched. A must hold round_up(M, row_align) readable rows and B
 * round_up(N, col_align) readable columns; only the M x N block of C is written. */
gboolean heed_op_gemm (HeedRecorder *rec, HeedMat a, HeedMat b, HeedMat c, HeedBuffer *bias,
                       guint M, guint N, guint K, guint batches, float alpha, guint epilogue,
                       const char *name, const char *kind, GError **error);
/* C = epi(LayerNorm(A) . W + b) in one dispatch, with the table's gemm_k4_ln (which must be
 * there; A as for heed_op_gemm_k4: K, lda and offsets multiples of 4). B is W with its rows
 * scaled by the norm's gamma; bias_colsum holds N values of b + W.beta, then B's N column sums
 * (heed_fold_layernorm makes both). */
gboolean heed_op_gemm_layernorm (HeedRecorder *rec, HeedMat a, HeedMat b, HeedMat c,
                                 HeedBuffer *bias_colsum, guint M, guint N, guint K, guint batches,
                                 float eps, guint epilogue, const char *name, const char *kind,
                                 GError **error);
/* Folds a LayerNorm's gamma and beta into the GEMM after it, for heed_op_gemm_layernorm: b is
 * W as the GEMM's B ([K][ldb], N columns), whose rows become gamma-scaled; bias_colsum ([2 N])
 * gets bias + W.beta (bias may be NULL), then the column sums of the new B. (Float32 weights
 * only: rounding gamma W to half would lose what an F16 checkpoint's W keeps exactly.) */
void heed_fold_layernorm (float *b, guint K, guint N, guint ldb, const float *gamma,
                          const float *beta, const float *bias, float *bias_colsum);
gboolean heed_op_layernorm (HeedRecorder *rec, HeedMat x, HeedMat y, HeedBuffer *gamma,
                            HeedBuffer *beta, guint M, guint D, float eps, HeedNormMode mode,
                            const char *name, GError **error);
/* heed_op_layernorm over `batches` batches of `rows` rows, x.batch and y.batch floats apart,
 * in one dispatch */
gboolean heed_op_layernorm_batches (HeedRecorder *rec, HeedMat x, HeedMat y, HeedBuffer *gamma,
                                    HeedBuffer *beta, guint rows, guint batches, guint D, float eps,
                                    HeedNormMode mode, const char *name, GError **error);
gboolean heed_op_softmax (HeedRecorder *rec, HeedMat s, guint M, guint N, guint batches,
                          const char *name, GError **error);
/* image [channels][height][width] -> patches from float out_off on: [patches][channels * patch^2]
 * (out_off a multiple of 4 where patch is); `frames` frames in one dispatch, their images
 * in_stride floats apart and their patches out_stride */
gboolean heed_op_patchify (HeedRecorder *rec, HeedBuffer *image, guint in_stride,
                           HeedBuffer *patches, guint out_off, guint out_stride, guint frames,
                           guint channels, guint height, guint width, guint patch, GError **error);
/* The residual stream's start block [tokens][D], made once a model: prefix token + pos_embed
 * in the first `prefix` rows (cls [prefix][D]), pos_embed in the others. */
void heed_tokens_start (const float *cls, const float *pos, guint tokens, guint D, guint prefix,
                        float *out);
/* x [frames][tokens][D]: every frame's block starts as the start block (heed_tokens_start's,
 * on the device). */
gboolean heed_op_tokens_init (HeedRecorder *rec, HeedBuffer *start, HeedBuffer *x, guint tokens,
                              guint D, guint frames, GError **error);
gboolean heed_op_head_mean (HeedRecorder *rec, HeedMat p, HeedBuffer *out, guint out_off,
                            guint rows, guint N, guint heads, const char *name, GError **error);
/* The same with the output's rows out_ld floats apart (a window's values among a frame's) */
gboolean heed_op_head_mean_strided (HeedRecorder *rec, HeedMat p, HeedBuffer *out, guint out_off,
                                    guint out_ld, guint rows, guint N, guint heads,
                                    const char *name, GError **error);
/* SwiGLU's gate in place: in `rows` rows of each of `batches` batches of x (x.ld >= 2 hidden),
 * the first hidden floats become silu (x[j]) * x[hidden + j] */
gboolean heed_op_swiglu (HeedRecorder *rec, HeedMat x, guint rows, guint hidden, guint batches,
                         const char *name, GError **error);
/* A rotary position embedding, in place: the queries and keys of each of `frames` frames' patch
 * rows (past `prefix` of its `tokens` rows) of a fused qkv [rows][3D] starting at float
 * qkv_off, turned by the (cos, sin) pairs of table (heed_rope_table's, on the device) from
 * pair table_off on: a block's [heads][patches][head_dim / 2] */
gboolean heed_op_rope (HeedRecorder *rec, HeedBuffer *qkv, guint qkv_off, HeedBuffer *table,
                       guint table_off, guint tokens, guint prefix, guint frames, guint D,
                       guint heads, const char *name, GError **error);
/* Swin V2's cosine attention, in place on a fused qkv [rows][3D] from float qkv_off: each head's
 * query scaled to length scale[head] (a buffer of heads floats), each head's key to length 1
 * (heed_ref_qk_normalize) */
gboolean heed_op_qk_normalize (HeedRecorder *rec, HeedBuffer *qkv, guint qkv_off, HeedBuffer *scale,
                               guint rows, guint D, guint heads, const char *name, GError **error);
/* The rotation of each head's channel pairs (2j, 2j + 1) for each patch: [heads][num_patches]
 * [head_dim / 2] pairs (cos, sin), the same for every block; with RoPE-Mixed's learnt
 * frequencies (mixed_freqs, timm's rope.freqs [2][depth][heads][head_dim / 2]) one such table
 * per block, depth of them. HeedModelConfig's rope fields say which angles. g_free it. */
float *heed_rope_table (const HeedModelConfig *c, const float *mixed_freqs);
/* Swin's windows (engine/swin.c), for one frame of a stage (HeedSwinStage):
 * - heed_swin_window_order: the grid index (row x grid + column) of each of the padded^2 places
 *   in window order (the grid rolled back by shift on both axes and padded to whole windows,
 *   in the order pad_first says, cut into windows row-major, each row-major inside), or
 *   HEED_SWIN_PAD for padding: the order a block's rows are in on the device;
 * - heed_swin_shift_mask: [windows][N][N] (N = window^2): -100 between two tokens of a window
 *   that came from different sides of the roll, 0 otherwise (transformers' and timm's value);
 * - heed_swin_relative_bias: the bias table [(2 window - 1)^2][heads] looked up as
 *   [heads][N][N] by the tokens' row and column offsets. */
#define HEED_SWIN_PAD G_MAXUINT /* a window's place that padding fills */
void heed_swin_window_order (guint grid, guint padded, guint window, guint shift,
                             gboolean pad_first, guint *order);
/* The most the attention biases a model's plan holds may take (BEiT's, Swin's) */
#define HEED_MAX_BIAS_BYTES 2e9
/* Swin's stages at img_size px: each stage's grid, window (Swin V2's cut to a grid smaller than
 * its model_window; the caller makes a changed window's biases again) and shift,
 * HeedModelConfig's img_size and the last stage's grid, tokens and num_patches; NULL, or (c
 * unchanged) why its windows cannot run there (g_free it): a grid smaller than Swin V1's
 * window, an odd grid before a merging, biases past HEED_MAX_BIAS_BYTES. A grid the windows do
 * not tile is padded (HeedSwinStage's padded). */
char *heed_swin_fit (HeedModelConfig *c, guint img_size);
void heed_swin_shift_mask (guint grid, guint window, guint shift, float *mask);
void heed_swin_relative_bias (const float *table, guint window, guint heads, float *bias);
/* A relative position table [rows][heads] looked up for `pairs` token pairs by their rows in it
 * (index, [pairs]) as the bias [heads][pairs]: Swin's and BEiT's */
void heed_relative_bias_lookup (const float *table, const guint *index, gsize pairs, guint heads,
                                float *bias);
/* The table row heed_swin_relative_bias reads for each token pair of a window: [N][N] */
void heed_swin_relative_index (guint window, guint *index);
/* BEiT's table row for each pair of the class token and a W x W grid's patches, [T][T] (T =
 * W^2 + 1): patch pairs by their offset, then the class token's three rows; and a table
 * [(2W - 1)^2 + 3][heads] looked up with it as the bias [heads][T][T] (g_free them) */
guint *heed_beit_position_index (guint W);
float *heed_beit_bias (const float *table, guint W, guint heads);
/* Swin V2's position MLP's inputs [(2 window - 1)^2][2], in the bias table's row order: each
 * relative offset (row, column) over window - 1 (the pretraining window's - 1 where
 * pretrained_window is not 0), times 8, log-spaced: sign (t) log2 (|t| + 1) / 3 (timm's and
 * transformers' relative_coords_table) */
void heed_swinv2_coords (guint window, guint pretrained_window, float *coords);
/* Swin V2's bias table [(2 window - 1)^2][heads], as heed_swin_relative_bias reads it:
 * 16 sigmoid (mlp (coords)); the MLP Linear (2, 512) (w1 [512][2], b1), ReLU, Linear (512,
 * heads) without a bias (w2 [heads][512]), timm's cpb_mlp */
#define HEED_SWINV2_MLP_HIDDEN 512
void heed_swinv2_bias_table (const float *w1, const float *b1, const float *w2, guint window,
                             guint pretrained_window, guint heads, float *table);
/* A Swin V2 block's attn_bias [heads][N][N] for its stage's window, from its position MLP
 * (HeedBlockWeights' cpb_*); g_free it */
float *heed_swinv2_block_bias (const HeedBlockWeights *w, const HeedSwinStage *st);
/* The floats heed_rope_table returns */
gsize heed_rope_table_floats (const HeedModelConfig *c);
/* Where block `block`'s table starts in heed_rope_table's, in (cos, sin) pairs: 0 but for
 * RoPE-Mixed, whose blocks have a table each */
gsize heed_rope_block_offset (const HeedModelConfig *c, guint block);
/* The weights a hub repository or a folder holds, by the names heed takes them, first found
 * first: one file, or a sharded checkpoint's index; safetensors before PyTorch's pickles;
 * OpenCLIP's own files (beside open_clip_config.json) where a repository has no other */
#define HEED_WEIGHTS_FILES                                                                         \
  "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",                        \
      "pytorch_model.bin.index.json", "open_clip_model.safetensors", "open_clip_pytorch_model.bin"
/* A sharded checkpoint's index (transformers' model.safetensors.index.json or
 * pytorch_model.bin.index.json): its weight_map (tensor name -> file, owned by *parser) and
 * the files it names, each once, in the order it first names them; every name a plain
 * .safetensors or .bin file beside the index, nothing that could reach outside its folder. */
gboolean heed_read_shard_index (const char *path, JsonParser **parser, JsonObject **weight_map,
                                GPtrArray **shards, GError **error);
/* Whether every tensor the weight map puts in shard is part of what heed never reads beside an
 * image tower: a vision-language model's language model and its head, a text tower or decoder,
 * a Q-Former, a projector. The hub does not fetch such a shard, and the loader passes over one
 * that is not there. */
gboolean heed_shard_beside_tower (JsonObject *weight_map, const char *shard);

/* Multi-head attention over a fused QKV [M][3D] (row stride 3D) starting at row `row` of qkv:
 * writes softmax(QK^T/sqrt(dh))V into out's rows row.. (row stride D) and leaves the
 * probabilities in scores, [H][m_pad][n_pad]. A batch of frames stacks their rows; one call
 * per frame. The GEMMs read Q and V in place, past the M rows and past the last column: qkv
 * must hold heed_attention_qkv_floats() floats for all its rows, finite beyond each M x 3D
 * block (they meet zero probabilities, or give rows that are not written). */
typedef struct {
  HeedBuffer *q, *kt, *v, *scores; /* scratch, sized by heed_attention_scratch_sizes */
  guint m_pad, n_pad, v_ld;
} HeedAttentionScratch;

gsize heed_attention_qkv_floats (const HeedKernels *kernels, guint rows, guint D);

/* TRUE when the compositor's working copy of the frame is device-local (its last frame came
 * from the device). */
gboolean heed_compositor_frame_on_device (const HeedCompositor *compositor);
/* How many colour-map and label-image uploads set_layers skipped as unchanged. */
guint heed_compositor_uploads_skipped (const HeedCompositor *compositor);
/* Whether the frame layout set last is drawn two pixels a word (composite.comp's PAIRS), and,
 * for the tests, whether layouts set from now on may be (the device's table says at first). */
gboolean heed_compositor_pairs (const HeedCompositor *compositor);
void heed_compositor_allow_pairs (HeedCompositor *compositor, gboolean allow);

/* TRUE when the run's frame staging is device-local (its last frames came from the device). */
gboolean heed_vit_run_frame_staging_on_device (const HeedVitRun *run);
gboolean heed_attention_scratch_init (HeedDevice *device, const HeedKernels *kernels,
                                      HeedAttentionScratch *s, guint M, guint D, guint heads,
                                      GError **error);
void heed_attention_scratch_clear (HeedAttentionScratch *s);
/* A [heads][M][M] score bias in the scores' padded layout, for heed_op_attention's score_bias
 * (*n_floats of them, zeros in the padding) */
float *heed_attention_bias_padded (const HeedKernels *k, const float *bias, guint M, guint heads,
                                   gsize *n_floats);
/* keep_probs: the scores must hold the softmax probabilities afterwards (the last block's, read
 * for the attention map; every block's for rollout); otherwise they may stay raw scores.
 * queries (1 to M): only the first `queries` rows attend (the last block of a class-token model,
 * whose other rows no output reads): only their output rows and probability rows are written. */
/* score_bias: NULL, or [H][m_pad][n_pad] floats (zeros past each head's M x M block) added to
 * the scaled scores before the softmax (BEiT's relative position bias); it rules out the
 * one-dispatch kernels, which write no scores. */
gboolean heed_op_attention (HeedRecorder *rec, HeedAttentionScratch *s, HeedBuffer *qkv,
                            HeedBuffer *score_bias, HeedBuffer *out, guint row, guint M,
                            guint queries, guint D, guint heads, gboolean keep_probs,
                            const char *name, GError **error);
/* The same with the bias bias_off floats into score_bias (one of Swin's windows' biases) */
gboolean heed_op_attention_at (HeedRecorder *rec, HeedAttentionScratch *s, HeedBuffer *qkv,
                               HeedBuffer *score_bias, gsize bias_off, HeedBuffer *out, guint row,
                               guint M, guint queries, guint D, guint heads, gboolean keep_probs,
                               const char *name, GError **error);
/* Rows gathered, each of `frames` frames alike (rows_in rows of `width` floats in, rows_out
 * rows of group x width out, a multiple of 4): out row r is the rows index[r * group + g] of
 * the frame's input side by side, g = 0 .. group - 1 (index: uint32, one frame's; HEED_SWIN_PAD
 * gives a zero row) */
gboolean heed_op_gather_rows (HeedRecorder *rec, HeedBuffer *in, HeedBuffer *index, HeedBuffer *out,
                              guint rows_out, guint rows_in, guint width, guint group, guint frames,
                              const char *name, GError **error);
/* heed_op_attention_frames with a bias added to each frame's scaled scores: frame f's is
 * window f % windows's [heads][bias_rows][bias_ld] block of `bias` (heed_attention_bias_padded's
 * layout, one window after another), where heed_attention_takes_frames_bias says the table has
 * the kernel and the bias fits it */
gboolean heed_attention_takes_frames_bias (const HeedKernels *k, HeedBuffer *qkv, HeedBuffer *bias,
                                           guint D, guint heads);
gboolean heed_op_attention_frames_bias (HeedRecorder *rec, HeedBuffer *qkv, HeedBuffer *bias,
                                        guint windows, HeedBuffer *out, guint row, guint M,
                                        guint frames, guint D, guint heads, const char *name,
                                        GError **error);
/* Whether heed_op_attention_frames can run these shapes: the attention in one dispatch, with
 * every query attending and the probabilities not an output. */
gboolean heed_attention_takes_frames (const HeedKernels *k, HeedBuffer *qkv, guint D, guint heads);
/* The attention of `frames` frames of M tokens each, M rows apart from `row`, in one dispatch
 * (a dispatch per frame and layer was most of a batch's time on a GPU). */
gboolean heed_op_attention_frames (HeedRecorder *rec, HeedBuffer *qkv, HeedBuffer *out, guint row,
                                   guint M, guint frames, guint D, guint heads, const char *name,
                                   GError **error);
/* Whether heed_op_attention_rows can run these shapes: the table has the kernel, Q, K and V can
 * be read in place, heads up to 256 wide and up to 3072 keys. */
gboolean heed_attention_takes_rows (const HeedKernels *k, HeedBuffer *qkv, guint M, guint D,
                                    guint heads);
/* Where heed_op_attention_rows writes probabilities: from float `off` of buf, each frame's first
 * `rows` query rows' (1: the class row's), as [picture][head][window][row][M] where `windows`
 * consecutive frames are the windows of one picture (Swin's; else 1: [frame][head][row][M], and
 * with one row cls_heads' layout) */
typedef struct {
  HeedBuffer *buf;
  guint off, rows, windows;
} HeedProbsOut;

/* The first `queries` rows of each of `frames` frames of M tokens (M rows apart from `row`)
 * attending over their frame's keys, in one dispatch: their outputs into out (no other row
 * written), probabilities as `probs` says; `bias` (or NULL) added to the scaled scores, frame
 * f's window f % bias_windows's [heads][bias_rows][bias_ld] block in
 * heed_attention_bias_padded's layout. */
gboolean heed_op_attention_rows (HeedRecorder *rec, HeedBuffer *qkv, HeedBuffer *bias,
                                 guint bias_windows, HeedBuffer *out, const HeedProbsOut *probs,
                                 guint row, guint M, guint queries, guint frames, guint D,
                                 guint heads, const char *name, GError **error);

/* Frame -> normalised NCHW [3][size][size]: frame is the packed frame (layout->size bytes, in a
 * buffer of at least round_up(size, 4)), params the 18 floats of heed_frame_params, rows the
 * intermediate of heed_frame_rows_bytes. Two dispatches: rows, then columns. */
gboolean heed_op_preprocess (HeedRecorder *rec, const HeedFrameLayout *layout, HeedBuffer *frame,
                             HeedBuffer *params, HeedBuffer *rows, HeedBuffer *out, guint size,
                             GError **error);
/* The same, written as heed_op_patchify would cut it: the rows of patch x patch squares
 * (size a multiple of patch), from float out_off (a multiple of 4) of patches. */
gboolean heed_op_preprocess_patches (HeedRecorder *rec, const HeedFrameLayout *layout,
                                     HeedBuffer *frame, HeedBuffer *params, HeedBuffer *rows,
                                     HeedBuffer *patches, guint out_off, guint size, guint patch,
                                     GError **error);

/* ---- frames (frame.c) ---- */

/* One axis of the resize, as torchvision and transformers do it with Pillow: the whole
 * source (`in` pixels) resized to `resized` pixels, of which `count` from `first` on are kept
 * (the centre crop) and land at `offset` in the model's input (letterbox). */
typedef struct {
  guint in, resized, first, count, offset;
} HeedResampleAxis;
void heed_frame_axes (const HeedFrameLayout *layout, guint size, HeedResampleAxis axes[2]);
/* The source and destination rectangles (x, y, w, h) of the resize, in source pixels and
 * model pixels. */
void heed_frame_geometry (const HeedFrameLayout *layout, guint size, float src[4], float dst[4]);
/* An axis's resize factor (in / resized), and in *inv_scale 1 / max (factor, 1), which scales the
 * filter's distances when shrinking: the one place they are divided, for the C reference and for
 * shaders/preprocess.comp, which takes them as push constants (a GPU's own division may be
 * 2.5 ulp out, and a box filter's edge then moves a pixel). */
float heed_resample_scale (const HeedResampleAxis *axis, float *inv_scale /* or NULL */);
/* Pillow's taps for resized pixel X of an axis: source pixels first .. first + n - 1, of weight
 * filter ((first + k - center + 0.5) * inv_scale), normalised to sum to 1. shaders/preprocess.comp
 * is the same arithmetic. */
typedef struct {
  gint first, n;
  float center, inv_scale;
} HeedSpan;
float heed_resample_support (HeedInterpolation filter);
void heed_resample_span (const HeedResampleAxis *axis, HeedInterpolation filter, guint X,
                         HeedSpan *span);
float heed_resample_filter (HeedInterpolation filter, float x);
/* HEED_INTERPOLATION_HEED_BOX8's taps for resized pixel X: n <= 8 source pixels and weights. */
guint heed_resample_box8_taps (const HeedResampleAxis *axis, guint X, guint idx[8], float wt[8]);
/* The source rows the row pass resamples (what the vertical taps of the kept rows reach). */
void heed_frame_resample_rows (const HeedFrameLayout *layout, const HeedResampleAxis axes[2],
                               guint *row0, guint *n_rows);
/* Bytes of a frame's staging slot: the packed frame, a word past it, 16-byte aligned. */
gsize heed_frame_staging_bytes (const HeedFrameLayout *layout);
/* Copies a frame in host memory (planes[i] at its first row, stride[i] bytes apart) into
 * dst, packed as the layout says. Fails on a missing or too narrow plane. */
gboolean heed_frame_pack (const HeedFrameLayout *layout, guint8 *dst, const guint8 *const planes[3],
                          const guint stride[3], GError **error);
/* A small RGB image of a frame in host memory, for statistics (heedkeyframe's embedding):
 * each of size x size pixels the mean of up to HEED_THUMBNAIL_TAPS x HEED_THUMBNAIL_TAPS
 * point samples spread over what it covers (the nearest pixel when enlarging), into out
 * [3][size][size] (RGB, 0..1); a YUV frame's samples are averaged as codes and then converted
 * with the preprocessing's matrix (heed_frame_params). Made on the host
 * while the frame is read, in place of copying the whole frame to the device. */
#define HEED_THUMBNAIL_TAPS 4
guint heed_thumbnail_taps (guint in_size, guint out_size, guint X, guint idx[HEED_THUMBNAIL_TAPS]);
gboolean heed_frame_thumbnail (const HeedFrameLayout *layout, const guint8 *const planes[3],
                               const guint stride[3], guint size, float *out, GError **error);
/* Bytes of the intermediate between the two passes: RGB as floats (8-bit codes, but
 * heed-box8's unrounded) of at most every source row, times the kept columns. */
gsize heed_frame_rows_bytes (const HeedFrameLayout *layout, guint size);
/* Records into cmd (reset, begun and ended here) the copies of a device-resident frame into
 * `frame` from byte `base` on, packed as the layout says, ending with a barrier for compute shaders
 * (into_frame); or back out of it after compute shaders wrote it. Image planes are left in a
 * readable layout (never UNDEFINED) written back to planes[i].layout, with access and stage
 * updated. */
gboolean heed_frame_record_copies (VkCommandBuffer cmd, gboolean into_frame,
                                   const HeedFrameLayout *layout, HeedDevicePlane *planes, guint n,
                                   VkBuffer frame, VkDeviceSize base, GError **error);

/* 1/std, -mean/std, the YUV->RGB matrix on 0..255 values, and the Y/U/V offsets. */
void heed_frame_params (const HeedFrameLayout *layout, const float mean[3], const float std[3],
                        float params[18]);

/* The inverse for drawing: RGB (0..255) to the layout's YUV codes, rows Y, U, V of m, and
 * the offsets (16 or 0, 128, 128). */
void heed_frame_rgb_to_yuv (const HeedFrameLayout *layout, float m[9], float offset[3]);

/* ---- compositing (compositor.c) ----
 * What shaders/composite.comp reads besides the frame, packed once for the device and the C
 * reference alike. params: keep in step with the shader's P_* indices. */
enum {
  HEED_COMPOSITE_P_YUV = 0,        /* 9 floats: RGB (0..255) -> Y, U, V rows */
  HEED_COMPOSITE_P_YUV_OFFSET = 9, /* 3 floats */
  HEED_COMPOSITE_P_HEAT_ON = 12,
  HEED_COMPOSITE_P_GRID_W = 13,
  HEED_COMPOSITE_P_GRID_H = 14,
  HEED_COMPOSITE_P_OPACITY = 15, /* float */
  HEED_COMPOSITE_P_REGION = 16,  /* 4 floats: x, y, width, height of the heatmap */
  HEED_COMPOSITE_P_N_IMAGES = 20,
  HEED_COMPOSITE_P_BOUNDS = 24, /* x0, y0, x1, y1: the pixels any layer may cover */
  HEED_COMPOSITE_P_IMAGES = 28, /* 8 words an image: x, y, width, height, first pixel */
};
#define HEED_COMPOSITE_PARAM_WORDS (HEED_COMPOSITE_P_IMAGES + 8 * HEED_COMPOSITOR_MAX_IMAGES)
typedef struct {
  guint32 params[HEED_COMPOSITE_PARAM_WORDS];
  guint32 lut[256]; /* 0x00BBGGRR */
  float *heat;      /* per cell, grid_width x grid_height row-major: its (value, alpha), then its
                     * right neighbour's (the row's last cell repeats its own) */
  gsize heat_floats;
  guint32 *pixels; /* the images one after another */
  gsize n_pixels;
  /* the rows some layer may cover, as sorted, disjoint spans [first, end) */
  guint row_spans[1 + HEED_COMPOSITOR_MAX_IMAGES][2];
  guint n_row_spans;
} HeedCompositeInputs;

void heed_composite_inputs_init (HeedCompositeInputs *in, const HeedFrameLayout *layout,
                                 const HeedHeatmapLayer *heatmap, const HeedImageLayer *images,
                                 guint n_images);
void heed_composite_inputs_clear (HeedCompositeInputs *in);
/* The compositor's own layout for a frame: rows padded so that each shader invocation owns
 * whole words (block_w x block_h pixels); with pairs, 64-bit words for 4-byte formats (two
 * pixels) and I420 (16 x 2). */
gboolean heed_composite_layout (const HeedFrameLayout *frame, gboolean pairs, HeedFrameLayout *out,
                                guint *block_w, guint *block_h, GError **error);

/* ---- plain C references (ref.c): the same maths as the shaders, on host arrays ---- */

float heed_ref_gelu (float x);
float heed_ref_gelu_tanh (float x);
void heed_ref_gemm (const float *a, guint lda, const float *b, guint ldb, float *c, guint ldc,
                    guint M, guint N, guint K, float alpha, const float *bias, guint epilogue);
void heed_ref_layernorm (const float *x, guint ldx, float *y, guint ldy, const float *gamma,
                         const float *beta, guint M, guint D, float eps);
/* RMSNorm: y = x / sqrt (mean (x^2) + eps) * gamma (+ beta where it is not NULL) */
void heed_ref_rmsnorm (const float *x, guint ldx, float *y, guint ldy, const float *gamma,
                       const float *beta, guint M, guint D, float eps);
void heed_ref_softmax (float *s, guint rows, guint N, guint ld);
void heed_ref_patchify (const float *image, guint channels, guint height, guint width, guint patch,
                        float *patches);
/* qkv [M][3D] -> out [M][D]; probs [H][M][M] may be NULL. */
/* bias: [heads][M][M] added to the scaled scores before the softmax, or NULL */
void heed_ref_attention (const float *qkv, const float *bias, float *out, float *probs, guint M,
                         guint D, guint heads);
void heed_ref_preprocess (const HeedFrameLayout *layout, const guint8 *frame, const float mean[3],
                          const float std[3], guint size, float *out);
/* shaders/keyframe.comp: a 64 x 64 CHW thumbnail -> embedding[HEED_KEYFRAME_DIM]; and the
 * errors [n_queries][HEED_KEYFRAME_HEADS] of queries attending over a window (embeddings
 * given row by row). */
/* Where each head of a compact embedding starts, and its end (shaders/keyframe.comp's
 * head_off and head_len): colour layout, colour histogram, edges. */
static const guint heed_keyframe_head_offset[HEED_KEYFRAME_HEADS + 1] = { 0, 193, 258,
                                                                          HEED_KEYFRAME_DIM };
void heed_ref_keyframe_features (const float *thumb, float *embedding);
/* heed_frame_thumbnail on a packed frame, through the preprocessing reference's fetch. */
void heed_ref_thumbnail (const HeedFrameLayout *layout, const guint8 *frame, guint size,
                         float *out);
/* shaders/logmel.comp: one 400-sample window (16 kHz) -> log-mel[HEED_AUDIO_MELS]. */
void heed_ref_logmel (const float *window, float *logmel);
void heed_ref_keyframe_attention (const float *const *queries, guint n_queries,
                                  const float *const *window, guint n_window, float temperature,
                                  float *errors);
/* The same over one head of dim floats (shaders/keyframe.comp's CLS variant): errors[query]. */
void heed_ref_cls_attention (const float *const *queries, guint n_queries,
                             const float *const *window, guint n_window, guint dim,
                             float temperature, float *errors);
/* shaders/composite.comp on a frame packed in heed_composite_layout's layout */
void heed_ref_composite (const HeedFrameLayout *layout, guint8 *frame,
                         const HeedCompositeInputs *in);
/* SwiGLU's gate in place: each row's (ld floats apart) first hidden become silu (x[j]) *
 * x[hidden + j] */
void heed_ref_swiglu (float *x, guint rows, guint hidden, guint ld);
/* heed_op_gather_rows: out row r of each frame is the frame's rows index[r * group + g] of in
 * side by side, a zero row where that index is HEED_SWIN_PAD */
void heed_ref_gather_rows (const float *in, const guint *index, float *out, guint rows_out,
                           guint rows_in, guint width, guint group, guint frames);
/* heed_op_rope's rotation of one frame's qkv [tokens][3D] by one block's table */
void heed_ref_rope (float *qkv, const float *table, guint tokens, guint prefix, guint D,
                    guint heads);
void heed_ref_head_mean (const float *probs, float *out, guint rows, guint N, guint heads);
/* heed_op_qk_normalize's on rows [rows][3D] */
void heed_ref_qk_normalize (float *qkv, const float *scale, guint rows, guint D, guint heads);
/* The whole forward pass on the CPU. Any output may be NULL. layer_attention is
 * [depth][tokens][tokens]; cls_attention_heads [heads][tokens]. */
void heed_ref_vit_forward (const HeedModel *model, const float *input, float *logits,
                           float *embedding, float *cls_attention_heads, float *layer_attention);

/* ---- number formats (half.c) ---- */
float heed_f16_to_f32 (uint16_t h);
uint16_t heed_f32_to_f16 (float f);
float heed_bf16_to_f32 (uint16_t h);

/* ---- PyTorch checkpoints (torch_file.c) ---- */

/* Sets a HEED_ERROR_MODEL "SOURCE: message" (model.c); returns FALSE. */
gboolean heed_model_error_valist (GError **error, const char *source, const char *format,
                                  va_list args);

/* One tensor of a state dict, by its name there. */
typedef struct {
  char *name;
  const char *dtype; /* as safetensors names it ("F32", "F16", "BF16", "I64"...); static */
  guint elem_size;   /* bytes */
  guint ndim;        /* at most 8 */
  guint64 shape[8];
  guint64 numel;
  const guint8 *bytes; /* numel elements, row-major, little-endian: in the file, or `owned` */
  guint8 *owned;       /* a row-major copy where the file's strides are not, else NULL */
} HeedTorchTensor;

/* Whether data begins as a zip archive does (torch.save's format since PyTorch 1.6). */
gboolean heed_torch_is_checkpoint (const guint8 *data, gsize size);
/* Whether data is torch.save's format before 1.6, which heed does not read. */
gboolean heed_torch_is_legacy (const guint8 *data, gsize size);
/* The state dict's tensors (HeedTorchTensor *, in the dict's order), their bytes pointing into
 * data (which must outlive them) where the file's are row-major; and, where arch is not NULL,
 * a training checkpoint's "arch" string beside its state dict (timm's train.py saves the
 * model's name there), or NULL. Nothing in the file is run: see torch_file.c. Fails with
 * HEED_ERROR_MODEL, prefixed with source, on anything else. */
GPtrArray *heed_torch_read (const guint8 *data, gsize size, const char *source, char **arch,
                            GError **error);

G_END_DECLS

#endif
