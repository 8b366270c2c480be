/* Engine internals shared by the engine's own files and its op tests. Not installed. */
#ifndef HEED_PRIVATE_H
#define HEED_PRIVATE_H

#include "heed-engine.h"

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

/* ---- device ---- */

typedef enum {
  HEED_SHADER_GEMM,
  HEED_SHADER_GEMM_K4,     /* A read as vec4 along K: K, lda and offsets multiples of 4 */
  HEED_SHADER_GEMM_K4_SG8, /* K4, rows shared by subgroup shuffles: one subgroup of 8 lanes */
  HEED_SHADER_LAYERNORM,
  HEED_SHADER_LAYERNORM_SG, /* a subgroup per row, vec4s: subgroup arithmetic, aligned rows */
  HEED_SHADER_SOFTMAX,
  HEED_SHADER_SOFTMAX_SG,
  HEED_SHADER_K_TRANSPOSE,
  HEED_SHADER_PATCHIFY,
  HEED_SHADER_TOKENS_INIT,
  HEED_SHADER_QKV_SPLIT,
  HEED_SHADER_HEAD_MEAN,
  HEED_SHADER_PREPROCESS,
  HEED_SHADER_COMPOSITE,
  HEED_SHADER_COUNT,
} HeedShaderId;

typedef struct {
  const char *name;
  const uint32_t *code;
  gsize size;
  guint n_bindings;
  guint push_size;
} HeedShaderInfo;

const HeedShaderInfo *heed_shader_info (HeedShaderId id);

typedef struct {
  VkPipeline pipeline;
  VkPipelineLayout layout;
  VkDescriptorSetLayout set_layout;
  const HeedShaderInfo *shader;
  guint local_size;
} HeedPipeline;

struct _HeedDevice {
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

  VkCommandPool command_pool;
  GMutex command_mutex;

  GMutex pipeline_mutex;
  GHashTable *pipelines; /* key: shader | specialization << 8 -> HeedPipeline */

  /* GEMM tiling, chosen per device: rows per tile, and lanes per workgroup along N. */
  guint gemm_tm, gemm_tn, gemm_lanes;
  gboolean gemm_shuffle; /* the workgroup is one subgroup of 8 with shuffles: GEMM_K4_SG8 */
  guint small_lanes;     /* workgroup size of the element-wise kernels */
  guint subgroup_size;
  gboolean subgroup_rows; /* compute has subgroup arithmetic: row kernels use a subgroup per row */
  gboolean has_timestamps;
  double timestamp_period_ns;
};

/* Rows and columns a GEMM operand must be padded to. */
static inline guint
heed_round_up (guint v, guint to)
{
  return (v + to - 1) / to * to;
}
static inline guint
heed_device_row_align (const HeedDevice *d)
{
  return d->gemm_tm;
}
static inline guint
heed_device_col_align (const HeedDevice *d)
{
  return d->gemm_lanes * d->gemm_tn;
}

HeedPipeline *heed_device_get_pipeline (HeedDevice *device, HeedShaderId shader,
                                        guint specialization, GError **error);
/* A primary command buffer from the device's pool (the pool is shared: allocation is locked). */
VkCommandBuffer heed_device_alloc_command_buffer (HeedDevice *device, GError **error);
void heed_device_free_command_buffer (HeedDevice *device, VkCommandBuffer *cmd);
void heed_device_lock_queue (HeedDevice *device);
void heed_device_unlock_queue (HeedDevice *device);

/* ---- buffers ---- */

typedef struct {
  HeedDevice *device;
  VkBuffer buffer;
  VkDeviceMemory memory;
  VkDeviceSize size;
  void *mapped; /* non-NULL when host-visible */
} HeedBuffer;

/* A zero-filled storage buffer of `size` bytes. host_visible buffers are mapped and coherent;
 * others are device-local where the device has such memory. */
HeedBuffer *heed_buffer_new (HeedDevice *device, VkDeviceSize size, gboolean host_visible,
                             GError **error);
void heed_buffer_destroy (HeedBuffer **buffer);
/* Copies between host memory and a buffer of any kind (through a staging buffer if needed). */
gboolean heed_buffer_upload (HeedBuffer *buffer, VkDeviceSize offset, const void *data,
                             VkDeviceSize size, GError **error);
gboolean heed_buffer_download (HeedBuffer *buffer, VkDeviceSize offset, void *data,
                               VkDeviceSize size, GError **error);

/* ---- recording ---- */

/* A command buffer with the descriptor sets of its dispatches, recorded once and submitted
 * any number of times. */
typedef struct {
  HeedDevice *device;
  VkCommandBuffer cmd;
  VkDescriptorPool pool;
  VkFence fence;
  VkQueryPool queries;
  guint max_dispatches;
  GArray *timings;  /* HeedOpTiming per dispatch */
  GPtrArray *names; /* owns the timings' op names */
  gboolean profile;
} HeedRecorder;

HeedRecorder *heed_recorder_new (HeedDevice *device, guint max_dispatches, gboolean profile,
                                 GError **error);
void heed_recorder_destroy (HeedRecorder **rec);
gboolean heed_recorder_dispatch (HeedRecorder *rec, HeedShaderId shader, guint specialization,
                                 HeedBuffer *const *bindings, const void *push, guint push_size,
                                 guint groups_x, guint groups_y, guint groups_z, const char *name,
                                 const char *kind, double flops, GError **error);
gboolean heed_recorder_end (HeedRecorder *rec, GError **error);
/* Submits (after `first`, a command buffer run just before, when not VK_NULL_HANDLE), waits,
 * and fills the timings when profiling. */
gboolean heed_recorder_submit (HeedRecorder *rec, GError **error);
gboolean heed_recorder_submit_after (HeedRecorder *rec, VkCommandBuffer first, GError **error);
/* The same with `last` (when not VK_NULL_HANDLE) run just after, in the same submission. */
gboolean heed_recorder_submit_between (HeedRecorder *rec, VkCommandBuffer first,
                                       VkCommandBuffer last, GError **error);

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
};

/* C = epi(alpha * A.B), batched. A must hold round_up(M, row_align) readable rows and B
 * round_up(N, col_align) readable columns; only the M x N block of C is written. */
gboolean heed_op_gemm (HeedRecorder *rec, HeedMat a, HeedMat b, HeedMat c, HeedBuffer *bias,
                       guint M, guint N, guint K, guint batches, float alpha, guint epilogue,
                       const char *name, const char *kind, GError **error);
gboolean heed_op_layernorm (HeedRecorder *rec, HeedMat x, HeedMat y, HeedBuffer *gamma,
                            HeedBuffer *beta, guint M, guint D, float eps, const char *name,
                            GError **error);
gboolean heed_op_softmax (HeedRecorder *rec, HeedMat s, guint M, guint N, guint batches,
                          const char *name, GError **error);
gboolean heed_op_patchify (HeedRecorder *rec, HeedBuffer *image, HeedBuffer *patches,
                           guint channels, guint height, guint width, guint patch, GError **error);
gboolean heed_op_tokens_init (HeedRecorder *rec, HeedBuffer *cls, HeedBuffer *pos, HeedBuffer *x,
                              guint tokens, guint D, GError **error);
gboolean heed_op_head_mean (HeedRecorder *rec, HeedMat p, HeedBuffer *out, guint out_off,
                            guint rows, guint N, guint heads, const char *name, GError **error);

/* Multi-head attention over a fused QKV [M][3D] (row stride 3D): writes softmax(QK^T/sqrt(dh))V
 * into out [M][D] (row stride D) and leaves the probabilities in scores, [H][m_pad][n_pad].
 * The GEMMs read Q and V in place, past the M rows and past the last column: qkv must hold
 * heed_attention_qkv_floats() floats, zero beyond the M x 3D block. */
typedef struct {
  HeedBuffer *q, *kt, *v, *scores; /* scratch, sized by heed_attention_scratch_sizes */
  guint m_pad, n_pad, v_ld;
} HeedAttentionScratch;

gsize heed_attention_qkv_floats (const HeedDevice *device, guint M, guint D);
gboolean heed_attention_scratch_init (HeedDevice *device, HeedAttentionScratch *s, guint M, guint D,
                                      guint heads, GError **error);
void heed_attention_scratch_clear (HeedAttentionScratch *s);
gboolean heed_op_attention (HeedRecorder *rec, HeedAttentionScratch *s, HeedBuffer *qkv,
                            HeedBuffer *out, guint M, guint D, guint heads, const char *name,
                            GError **error);

/* Frame -> normalised NCHW [3][size][size]: frame is the packed frame (layout->size bytes, in a
 * buffer of at least round_up(size, 4)), params the 18 floats of heed_frame_params. */
gboolean heed_op_preprocess (HeedRecorder *rec, const HeedFrameLayout *layout, HeedBuffer *frame,
                             HeedBuffer *params, HeedBuffer *out, guint size, GError **error);

/* ---- frames (frame.c) ---- */

/* The source and destination rectangles (x, y, w, h) of the resize, in source pixels and
 * model pixels. */
void heed_frame_geometry (const HeedFrameLayout *layout, guint size, float src[4], float dst[4]);
/* Records into cmd (reset, begun and ended here) the copies of a device-resident frame into
 * `frame`, packed as the layout says, ending with a barrier for compute shaders (into_frame);
 * or back out of it after compute shaders wrote it. Image planes are left in a readable
 * layout (never UNDEFINED) written back to planes[i].layout, with access and stage updated. */
gboolean heed_frame_record_copies (VkCommandBuffer cmd, gboolean into_frame,
                                   const HeedFrameLayout *layout, HeedDevicePlane *planes, guint n,
                                   VkBuffer frame, GError **error);

/* 1/std, -mean/std, the YUV->RGB matrix on 0..255 values, and the Y/U/V offsets. */
void heed_frame_params (const HeedFrameLayout *layout, const float mean[3], const float std[3],
                        float params[18]);

/* The inverse for drawing: RGB (0..255) to the layout's YUV codes, rows Y, U, V of m, and
 * the offsets (16 or 0, 128, 128). */
void heed_frame_rgb_to_yuv (const HeedFrameLayout *layout, float m[9], float offset[3]);

/* The layout the runner was last set up for, or NULL. */
const HeedFrameLayout *heed_vit_get_layout (const HeedVit *vit);

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
  float *heat;      /* (value, alpha) per cell, grid_width x grid_height, row-major */
  gsize heat_floats;
  guint32 *pixels; /* the images one after another */
  gsize n_pixels;
} HeedCompositeInputs;

void heed_composite_inputs_init (HeedCompositeInputs *in, const HeedFrameLayout *layout,
                                 const HeedHeatmapLayer *heatmap, const HeedImageLayer *images,
                                 guint n_images);
void heed_composite_inputs_clear (HeedCompositeInputs *in);
/* The compositor's own layout for a frame: rows padded so that each shader invocation owns
 * whole words (block_w x block_h pixels). */
gboolean heed_composite_layout (const HeedFrameLayout *frame, HeedFrameLayout *out, guint *block_w,
                                guint *block_h, GError **error);

/* ---- plain C references (ref.c): the same maths as the shaders, on host arrays ---- */

float heed_ref_gelu (float x);
void heed_ref_gemm (const float *a, guint lda, const float *b, guint ldb, float *c, guint ldc,
                    guint M, guint N, guint K, float alpha, const float *bias, guint epilogue);
void heed_ref_layernorm (const float *x, guint ldx, float *y, guint ldy, const float *gamma,
                         const float *beta, guint M, guint D, float eps);
void heed_ref_softmax (float *s, guint rows, guint N, guint ld);
void heed_ref_patchify (const float *image, guint channels, guint height, guint width, guint patch,
                        float *patches);
/* qkv [M][3D] -> out [M][D]; probs [H][M][M] may be NULL. */
void heed_ref_attention (const float *qkv, float *out, float *probs, guint M, guint D, guint heads);
void heed_ref_preprocess (const HeedFrameLayout *layout, const guint8 *frame, const float mean[3],
                          const float std[3], guint size, float *out);
/* shaders/composite.comp on a frame packed in heed_composite_layout's layout */
void heed_ref_composite (const HeedFrameLayout *layout, guint8 *frame,
                         const HeedCompositeInputs *in);
void heed_ref_head_mean (const float *probs, float *out, guint rows, guint N, guint heads);
/* The whole forward pass on the CPU. Any output may be NULL. layer_attention is
 * [depth][tokens][tokens]; cls_attention_heads [heads][tokens]. */
void heed_ref_vit_forward (const HeedModel *model, const float *input, float *logits,
                           float *embedding, float *cls_attention_heads, float *layer_attention);

/* ---- number formats (half.c) ---- */
float heed_f16_to_f32 (uint16_t h);
uint16_t heed_f32_to_f16 (float f);
float heed_bf16_to_f32 (uint16_t h);

G_END_DECLS

#endif
