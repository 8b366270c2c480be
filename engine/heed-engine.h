/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* heed engine: a Vulkan compute engine that runs vision transformers.
 *
 * No GStreamer dependency; GLib for errors and containers. Every fallible call takes a
 * GError ** and returns NULL/FALSE with the error set; nothing aborts on bad input.
 *
 * Threading: a HeedDevice and a HeedVitPlan may be used from any number of threads at once
 * (each thread's work has its own command pools; submissions take the device's queue lock;
 * the pipeline cache takes its own lock). A HeedVitRun, a HeedCompositor and a HeedVitResult
 * are used by one thread at a time (tests/test-threads.c checks this promise).
 * Ownership: *_destroy (&p) drops the caller's reference (HeedDevice, HeedVitPlan are
 * reference-counted; everything else has one owner), NULLs the pointer and accepts &NULL.
 */
#ifndef HEED_ENGINE_H
#define HEED_ENGINE_H

#include <glib.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

G_BEGIN_DECLS

/* ---- errors and logging ------------------------------------------------------------------ */

#define HEED_ERROR (heed_error_quark ())
GQuark heed_error_quark (void);

typedef enum {
  HEED_ERROR_VULKAN,    /* a Vulkan call failed: the message names the call and its VkResult */
  HEED_ERROR_NO_DEVICE, /* no usable Vulkan driver or device */
  HEED_ERROR_MODEL,     /* the model file is malformed or not a supported ViT */
  HEED_ERROR_IO,        /* a file could not be read or written */
  HEED_ERROR_INVALID,   /* an argument is out of range */
} HeedError;

typedef enum {
  HEED_LOG_ERROR,
  HEED_LOG_WARNING,
  HEED_LOG_INFO,
  HEED_LOG_DEBUG,
} HeedLogLevel;

typedef void (*HeedLogFunc) (HeedLogLevel level, const char *message, void *user_data);

/* Routes the engine's log (including Vulkan validation messages) to func; NULL restores the
 * default, which prints warnings and errors to stderr, and everything when HEED_DEBUG is set. */
void heed_set_log_func (HeedLogFunc func, void *user_data);

/* Number of messages the Khronos validation layer has sent since start-up. The layer is enabled
 * on devices the engine creates when HEED_VALIDATION=1; tests treat any message as a failure. */
guint heed_validation_message_count (void);

/* Reads a whole file of untrusted input, at most max_bytes of it: a larger (or endless) file,
 * a directory or an unreadable path gives HEED_ERROR_IO naming the file. contents is
 * NUL-terminated and freed with g_free. */
gboolean heed_file_read (const char *path, gsize max_bytes, char **contents, gsize *length,
                         GError **error);

/* ---- devices ------------------------------------------------------------------------------ */

typedef struct _HeedDevice HeedDevice;

typedef struct {
  guint index;
  char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
  VkPhysicalDeviceType type;
  gboolean has_compute; /* has a queue family with compute */
} HeedDeviceInfo;

/* Lists the Vulkan physical devices. *chosen receives the index heed_device_new (-1) would
 * use (HEED_DEVICE honoured). Returns a GArray of HeedDeviceInfo, or NULL with error set. */
GArray *heed_device_list (guint *chosen, GError **error);

/* Opens a device. index -1 chooses automatically: the HEED_DEVICE environment variable (an index
 * or a case-insensitive part of the name) when set, else a discrete GPU, then an integrated one,
 * then any GPU, then a CPU implementation such as lavapipe. */
HeedDevice *heed_device_new (int index, GError **error);

/* Runs on a device someone else owns (GStreamer's shared device). The handles stay owned by the
 * caller and must outlive the HeedDevice. When queue_lock is set, every submission to queue
 * happens between queue_lock and queue_unlock, since other users submit to the same VkQueue.
 * It needs no optional feature: a device with none enabled works (heed's own devices enable
 * shaderInt64 where supported, which only makes lavapipe's GEMMs store faster). */
typedef struct {
  VkInstance instance;
  VkPhysicalDevice physical_device;
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  void (*queue_lock) (void *user_data);
  void (*queue_unlock) (void *user_data);
  void *lock_data;
} HeedDeviceImport;

HeedDevice *heed_device_new_import (const HeedDeviceImport *import, GError **error);
/* Another reference, for another user of the same device (another element, a plan). */
HeedDevice *heed_device_ref (HeedDevice *device);
void heed_device_destroy (HeedDevice **device);
/* The VkDevice underneath, to tell whether two HeedDevices share one. */
VkDevice heed_device_get_vk_device (const HeedDevice *device);
const char *heed_device_get_name (const HeedDevice *device);
/* The kernels chosen for the device, in a line (newly allocated): the GEMM's, whether the blocks'
 * LayerNorms fold into the GEMMs after them, and the attention's. */
char *heed_device_describe_kernels (const HeedDevice *device);
/* TRUE once the device is lost (VK_ERROR_DEVICE_LOST: a driver reset, a GPU gone): every run
 * on it fails from then on, and a new device is the way to go on. */
gboolean heed_device_is_lost (const HeedDevice *device);
VkPhysicalDeviceType heed_device_get_type (const HeedDevice *device);
/* The device's multiply-add peak in GFLOP/s (32-bit floats, every invocation's chains in
 * registers; a fused multiply-add counts 2), timed on the device: what `heed bench` gives each
 * kernel a share of. Takes a fraction of a second. */
gboolean heed_device_measure_peak (HeedDevice *device, double *gflops, GError **error);

/* lavapipe, Mesa's Vulkan on the CPU, compiles shaders for 256-bit vectors unless
 * LP_NATIVE_VECTOR_WIDTH says otherwise, AVX-512 or not (Mesa 22.3 caps its default there). On
 * a CPU with AVX-512, 512 bits ran heed's DeiT-Tiny forward pass 10-26% faster in six paired
 * rounds, its GEMMs at 41-51% of PyTorch's GFLOP/s (docs/benchmarks.md). A process that owns its
 * environment (the heed tool) calls this first, before any thread or Vulkan instance exists: it
 * sets LP_NATIVE_VECTOR_WIDTH=512 where the CPU has AVX-512F, the variable is not set and
 * Mesa's own GALLIUM_OVERRIDE_CPU_CAPS or GALLIUM_NOSSE does not take AVX-512 from llvmpipe, and
 * returns TRUE where it did. A library never changes its host's environment: in the GStreamer
 * plugin heed_device_new only logs the hint (at INFO). */
gboolean heed_lavapipe_use_wide_vectors (void);

/* ---- models ------------------------------------------------------------------------------- */

/* How a frame of another shape becomes the model's square input. */
typedef enum {
  HEED_RESIZE_STRETCH,   /* the whole frame (or its centred crop_fraction), aspect not kept */
  HEED_RESIZE_CROP,      /* the largest centred square (times crop_fraction of its side) */
  HEED_RESIZE_LETTERBOX, /* the whole frame, aspect kept, black bars */
} HeedResize;

/* Pillow's resampling filters (transformers' `resample` numbers them 0..5 in the order NEAREST,
 * LANCZOS, BILINEAR, BICUBIC, BOX, HAMMING). Shrinking widens every filter but NEAREST by the
 * scale (antialiasing), as Pillow does. */
typedef enum {
  HEED_INTERPOLATION_BILINEAR,
  HEED_INTERPOLATION_BICUBIC,
  HEED_INTERPOLATION_LANCZOS,
  HEED_INTERPOLATION_BOX,
  HEED_INTERPOLATION_HAMMING,
  HEED_INTERPOLATION_NEAREST,
  /* heed's first resampler: per axis, the mean of at most 8 point samples spread over what a
   * pixel covers when shrinking, linear when enlarging. Not Pillow's: kept for the embedded
   * default model, which was trained on frames resized this way and names it, and cheap for
   * heedkeyframe's thumbnails (its cost does not grow with the frame's width). */
  HEED_INTERPOLATION_HEED_BOX8,
} HeedInterpolation;

/* "bilinear", "bicubic", ... (timm's names); from_name is case-insensitive, FALSE if unknown. */
const char *heed_interpolation_name (HeedInterpolation interpolation);
gboolean heed_interpolation_from_name (const char *name, HeedInterpolation *interpolation);

/* How a centre crop rounds an odd margin: torchvision (timm's eval transform) rounds half of it
 * to even, transformers' image processors round it down. */
typedef enum {
  HEED_CROP_ROUND_HALF_EVEN,
  HEED_CROP_ROUND_DOWN,
} HeedCropRounding;

/* One stage of a Swin model: its blocks run over a grid x grid of tokens, each block's
 * attention within windows of window x window tokens (window: the model's, or the grid where
 * the grid is no larger), every odd block's over the grid rolled back by shift on both axes
 * (half a window; 0 where one window covers the grid) with the tokens from either side of the
 * roll kept apart; before every stage but the first, patch merging halves the grid. */
#define HEED_SWIN_MAX_STAGES 6
typedef struct {
  guint dim, depth, heads, mlp_hidden, grid, window, shift;
  guint pretrained_window; /* Swin V2: the window its position MLP's offsets were scaled by in
                            * pretraining (timm's and transformers' pretrained_window_size), 0
                            * where that is the stage's own */
  guint model_window;      /* Swin V2: the model's window, which a grid smaller than it cuts to
                            * the grid (window is then the grid); 0 for Swin V1, whose window
                            * is its table's */
  guint padded;            /* the grid rounded up to whole windows: where the windows do not
                            * tile the grid, its blocks attend over it padded with zero tokens
                            * at the bottom and right (HeedModelConfig's swin_pad_first says
                            * how), which nothing else sees */
} HeedSwinStage;

typedef struct {
  guint img_size, patch_size, in_chans;
  guint grid;               /* patches per side */
  guint num_patches;        /* grid * grid */
  guint num_prefix;         /* tokens before the patches: the class token, then DeiT's distillation
                             * token or register tokens (timm's order) */
  guint tokens;             /* num_prefix + num_patches */
  guint num_registers;      /* of the prefix tokens, the register tokens */
  gboolean distilled;       /* DeiT distilled: the prediction averages head and head_dist */
  gboolean quick_gelu;      /* the MLP's activation is QuickGELU (OpenAI CLIP), not exact GELU */
  gboolean gelu_tanh;       /* the MLP's activation is GELU's tanh approximation (SigLIP's) */
  gboolean swiglu;          /* the MLP is SwiGLU (DINOv2 giant's): fc1 gives 2 x mlp_hidden
                             * outputs, the gate's then the value's, and fc2 reads
                             * silu (gate) * value */
  gboolean avg_pool;        /* the prediction pools the patch tokens by their mean, then fc_norm
                             * (timm's global_pool="avg"); num_prefix may then be 0 (no class
                             * token). Its attention map is the attention each patch receives,
                             * averaged over every query token, not one token's row. */
  gboolean pool_after_norm; /* with avg_pool: the final norm on every token first, then the
                             * mean, no fc_norm (timm's fc_norm=False) */
  gboolean pool_without_norm; /* with avg_pool: the mean patch token with no norm before or
                               * after it (transformers' CLIPForImageClassification); without:
                               * the class token with no final norm (timm's final_norm=False) */
  gboolean map_pool;      /* attention pooling (timm's attn_pool, SigLIP's): a learnt query attends
                           * over every token after the final norm, then an MLP (HeedModel's
                           * map_head); its attention map is that query's attention over the
                           * patches. num_prefix may be 0. */
  guint pool_heads;       /* with map_pool: its attention's heads (the blocks' num_heads but for
                           * the Perception Encoder's 8); heed_attention_map_heads () */
  gboolean rel_pos_bias;  /* BEiT: every block adds a learnt bias per head and token pair to
                           * its attention scores (HeedBlockWeights' attn_bias); no position
                           * embedding beyond it (pos_embed all zeros) unless the checkpoint
                           * has one too */
  gboolean rope;          /* a rotary position embedding (EVA-02's and timm's other "cat" ones,
                           * RoPE-Mixed's, DINOv3's) turns each patch token's query and key (not
                           * the prefix tokens'), pairs of channels by angles from its row (a
                           * head's first half of pairs) and column (the second), or the other
                           * way round (rope_columns_first); heed_rope_table () */
  guint rope_ref_grid;    /* the grid the rotary frequencies were learnt at (timm's
                           * ref_feat_shape): positions are scaled by it over grid; 0: the
                           * positions are the patch's row and column as they are */
  float rope_grid_offset; /* added to the row and column before that scaling (timm's
                           * rope_grid_offset: the Perception Encoder's 1) */
  gboolean rope_dinov3;   /* DINOv3's rotary embedding instead: patch centres at [-1, 1] on
                           * each axis, 2 pi / base^(band / (head_dim / 4)) radians per unit;
                           * its pairs are channels (j, j + head_dim / 2), which the loader
                           * reorders to (2j, 2j + 1) in the query's and key's rows */
  float rope_base;        /* the frequencies' base: 10000 (EVA-02), 100 (DINOv3, RoPE-ViT) */
  gboolean rope_columns_first; /* timm's grid_indexing "xy" (RoPE-ViT's): a head's first half
                                * of pairs turns by the patch's column, the second by its row */
  gboolean rope_mixed;         /* RoPE-Mixed (naver's RoPE-ViT): each block's and head's pair
                                * turns by column x fx + row x fy, learnt frequencies
                                * (HeedModel's rope_freqs); no base, no reference grid */
  gboolean mlp_norm;           /* EVA-02 base and large: a LayerNorm over the MLP's hidden layer,
                                * after the activation (or SwiGLU's gate), before fc2 */
  gboolean attn_norm;          /* EVA-02's CLIP towers: a LayerNorm over the attention's output,
                                * before its projection (timm's scale_attn_inner) */
  gboolean rms_norm;           /* every norm of the model is RMSNorm, x / sqrt (mean (x^2) + eps)
                                * times its weight, not LayerNorm (AIMv2's); ln_eps is its eps
                                * and the norms' biases are zero */
  guint dim, depth, num_heads, head_dim, mlp_hidden;
  /* Swin (v1: timm's swin_*, transformers' SwinModel and SwinForImageClassification): stages of
   * windowed blocks over grids that halve (swin[], swin_stages of them; 0 for a plain ViT).
   * img_size, patch_size and in_chans are the input's; grid, num_patches, tokens, dim,
   * num_heads, head_dim and mlp_hidden the last stage's, whose tokens the map and the embedding
   * are over (avg_pool with pool_after_norm, no prefix); depth counts every stage's blocks,
   * HeedModel's blocks in stage order. */
  guint swin_stages;
  HeedSwinStage swin[HEED_SWIN_MAX_STAGES];
  /* Swin V2 (timm's swinv2_*, transformers' Swinv2Model): cosine attention (each head's query
   * and key at unit length, the scores times the head's learnt scale, HeedBlockWeights'
   * qk_scale), the bias table made at load by the position MLP (16 sigmoid (cpb_mlp)), and
   * each block's norms after its attention and MLP, before the residual adds (norm1 on the
   * attention's output, norm2 on the MLP's: x + norm1 (attn (x)), then + norm2 (mlp (x))); patch
   * merging's norm after its Linear */
  gboolean swin_v2;
  /* where a stage's windows do not tile its grid: transformers' padding (the normed tokens
   * padded with zeros, then the padded grid rolled), else timm's (the grid rolled, then padded);
   * both build the shifted windows' mask over the padded grid */
  gboolean swin_pad_first;
  guint num_classes;        /* 0 for a head-less backbone */
  gboolean patch_mean_head; /* transformers' Dinov2ForImageClassification: the head reads the
                             * class token and the mean patch token, both after the final norm
                             * (HeedModel's head_w and head_mean_w) */
  float ln_eps;
  char **labels; /* NULL-terminated, or NULL when the file names none */
  /* How the checkpoint's authors prepare images, from (in this order, each value from the
   * first that gives it) __metadata__, timm's config.json "pretrained_cfg", transformers'
   * preprocessor_config.json, else ImageNet's mean and std and a plain resize: */
  float mean[3], std[3];           /* on RGB in 0..1 */
  HeedResize resize;               /* STRETCH (a plain resize, or timm's squash) or CROP */
  float crop_fraction;             /* of the side that is cropped: timm's crop_pct as applied
                                    * (img_size / floor (img_size / crop_pct)), transformers'
                                    * crop_size / size; 1 without a crop */
  HeedInterpolation interpolation; /* the filter the authors resize with */
  HeedCropRounding crop_rounding;  /* whose centre crop: timm's (torchvision's) or transformers' */
  char preprocess_source[160];     /* where each of the above came from, for people */
  /* whose tensor names the loader read (timm's, transformers' under a prefix, OpenCLIP's
   * renamed, ...) and how many tensors in the files nothing reads (a text tower beside an image
   * tower), for people */
  char names_read[96];
  guint unread_tensors;
  /* a sharded checkpoint's shards that hold only what is beside an image tower (a language
   * model, a text tower), not there (the hub does not fetch them) and not needed */
  guint shards_unread;
} HeedModelConfig;

/* The heads of the attention whose rows are the attention map (HeedVitResult's
 * cls_attention_heads): attention pooling's where the model pools so, else the last block's */
static inline guint
heed_attention_map_heads (const HeedModelConfig *c)
{
  return c->map_pool && c->pool_heads ? c->pool_heads : c->num_heads;
}

typedef struct {
  float *norm1_w, *norm1_b;
  float *qkv_w, *qkv_b;   /* [3D][D], q|k|v */
  float *proj_w, *proj_b; /* [D][D] */
  float *norm2_w, *norm2_b;
  float *fc1_w, *fc1_b;           /* [hidden][D] */
  float *fc2_w, *fc2_b;           /* [D][hidden] */
  float *attn_bias;               /* [heads][tokens][tokens] added to the attention's scaled scores
                                   * (BEiT's relative position bias, looked up at load; Swin's,
                                   * [heads][window^2][window^2]), or NULL */
  float *mlp_norm_w, *mlp_norm_b; /* [hidden], with mlp_norm, else NULL */
  float *attn_norm_w, *attn_norm_b; /* [D], with attn_norm, else NULL */
  float *qk_scale; /* [heads]: Swin V2's cosine attention's scales, exp (logit_scale) up to 100,
                    * else NULL */
  float *cpb_w1, *cpb_b1, *cpb_w2; /* Swin V2's position MLP (heed_swinv2_bias_table's), kept to
                                    * make attn_bias again for another window, else NULL */
} HeedBlockWeights;

/* A loaded model: its configuration and every weight converted to float32 in PyTorch's
 * layout (Linear weights [out][in], conv weight [D][C][p][p]). Immutable once loaded. */
typedef struct {
  HeedModelConfig config;
  float *cls_token; /* [num_prefix][D]: the class token, then dist_token or reg_token rows */
  float *pos_embed; /* [tokens][D]; zero rows for prefix tokens the checkpoint gives no position
                     * (timm's no_embed_class) */
  float *patch_w;   /* [D][C*p*p] */
  float *patch_b;   /* [D] */
  HeedBlockWeights *blocks;
  float *norm_w, *norm_b;             /* [D]: the final norm (fc_norm after average pooling but
                                       * with pool_after_norm; map_head's norm1 is a copy); NULL
                                       * for timm's models with neither (pool_without_norm) */
  float *head_w, *head_b;             /* [classes][D] and [classes], NULL when head-less */
  float *head_dist_w, *head_dist_b;   /* the distillation head, when distilled */
  float *head_mean_w;                 /* [classes][D]: with patch_mean_head, the head's columns that
                                       * read the mean patch token (head_w has the class token's) */
  float *norm_pre_w, *norm_pre_b;     /* CLIP towers' LayerNorm before the blocks, or NULL */
  float *patch_norm_w, *patch_norm_b; /* a norm of the patch embedding's output, before the
                                       * positions are added (AIMv2's), or NULL */
  float *rope_freqs; /* RoPE-Mixed's learnt frequencies [2][depth][heads][head_dim / 2] (the
                      * column's, then the row's), or NULL */
  /* Swin's patch merging before stage s >= 1: a LayerNorm over 4 x the stage before's width
   * (the 2 x 2 tokens' channels, in the order (row, column) (0, 0), (1, 0), (0, 1), (1, 1)),
   * then a Linear [2 x that width][4 x that width] without a bias; Swin V2's the Linear first,
   * then a LayerNorm over its 2 x that width */
  float *merge_norm_w[HEED_SWIN_MAX_STAGES], *merge_norm_b[HEED_SWIN_MAX_STAGES];
  float *merge_w[HEED_SWIN_MAX_STAGES];
  /* with map_pool, the pooling as one more block that runs its attention for one query and has
   * no residual around it: norm1 the final norm, qkv the keys' and values' projection with zero
   * query rows and the learnt query's projection as the query bias (every row's query is
   * then that one), proj, norm2 and the MLP the pool's own */
  HeedBlockWeights *map_head;
  char *source; /* file path or "<memory>" for messages */
  /* another input size resamples pos_embed from the checkpoint's own (kept here once resampled,
   * else NULL, with its grid) the way the model's authors do: timm's antialiased bicubic, for
   * transformers' DINOv2 PyTorch's bicubic without antialiasing, for its SigLIP 2 NaFlex towers
   * antialiased bilinear */
  float *pos_native;
  guint grid_native;
  gboolean pos_resample_plain_bicubic;
  gboolean pos_resample_bilinear;
  /* BEiT's (and data2vec's) relative position bias tables as the checkpoint holds them,
   * [(2 rel_grid - 1)^2 + 3][heads], one a block or one shared (rel_table_count), from which
   * another input size's biases are made as the checkpoint's library makes them: transformers'
   * BeitRelativePositionBias at run time, or timm's checkpoint filter at load (rel_tables_timm);
   * NULL for models without */
  float **rel_tables;
  guint rel_table_count, rel_grid;
  gboolean rel_tables_timm;
} HeedModel;

/* Loads a safetensors ViT checkpoint (timm or Hugging Face names; F32, F16, BF16 or F64). The file
 * is untrusted: every offset, shape and size is checked, and a bad file gives HEED_ERROR_MODEL with
 * a message that says what is wrong. A config.json beside the file is read for num_heads,
 * labels and layer_norm_eps when the file's __metadata__ lacks them. A hub name
 * (hf:OWNER/NAME[@REVISION]) is loaded from the cache, fetched first without progress
 * reports; call heed_hub_resolve first to report them. */
HeedModel *heed_model_load (const char *path, GError **error);
/* The embedded default model: a small ViT trained on GStreamer's videotestsrc patterns (the
 * 19 labels of DESIGN.md), named "default". */
HeedModel *heed_model_load_default (GError **error);
/* The same from memory; config_json (config.json) and preprocessor_json
 * (preprocessor_config.json) may be NULL. The bytes are copied as needed. */
HeedModel *heed_model_load_from_data (const guint8 *data, gsize size, const char *config_json,
                                      const char *preprocessor_json, const char *name,
                                      GError **error);
/* A model with seeded random weights of the given shape, for benchmarks and tests. */
HeedModel *heed_model_new_random (const HeedModelConfig *shape, guint32 seed, GError **error);
/* Runs the model at another input size (a multiple of its patch size, from one patch to 4096
 * pixels): the patch part of the checkpoint's pos_embed is resampled to the new grid as timm's
 * resample_abs_pos_embed does (bicubic, antialiased when shrinking, the CLS position kept), or
 * for transformers' DINOv2 as its interpolate_pos_encoding does (bicubic, not antialiased),
 * for finer attention maps (a 224 model at 448 gives a 28 x 28 map). transformers' DINOv2 loads
 * at the size its preprocessor_config.json crops to, as transformers runs it. */
gboolean heed_model_set_input_size (HeedModel *model, guint img_size, GError **error);
/* Writes the model as F32 safetensors with timm names and its config as __metadata__. */
gboolean heed_model_save (const HeedModel *model, const char *path, GError **error);
void heed_model_destroy (HeedModel **model);

/* Multiply-adds x2 of one forward pass. */
double heed_model_flops (const HeedModelConfig *config);
/* What the loader made of the checkpoint, in one line for people: size, patch, width, depth,
 * heads, classes, the prefix tokens, the pooling and the activation. Free with g_free. */
char *heed_model_describe (const HeedModelConfig *config);

/* ---- video frames ------------------------------------------------------------------------ */

/* ---- models by name: the Hugging Face hub -------------------------------------------------- */

/* TRUE for a hub model name, "hf:OWNER/NAME" or "hf:OWNER/NAME@REVISION" (default "main"), or
 * the same written as timm writes it (hf-hub:OWNER/NAME), as huggingface_hub does
 * (hf://OWNER/NAME) or as the repository's address (https://huggingface.co/OWNER/NAME, its
 * /tree/REVISION or a file's /blob/ or /resolve/REVISION/FILE). */
gboolean heed_hub_is_name (const char *model);
/* TRUE for a path that would be a hub name with hf: before it (OWNER/NAME[@REVISION]): for a
 * hint where no such file is found. */
gboolean heed_hub_could_be_repo (const char *path);
/* Called as a download proceeds: bytes done of total (0 when unknown) of one file. */
typedef void (*HeedHubProgress) (const char *file, guint64 done, guint64 total, gpointer data);
/* The local path of a model's weights: a copy of model when it is not a hub name; else the
 * cached snapshot of the hub repository (its model.safetensors, with config.json and
 * preprocessor_config.json beside it when the repository has them), fetched first when the
 * revision is not cached. Without a network (or with HEED_HUB_OFFLINE=1) only the cache is
 * used. HEED_HUB_ENDPOINT names another server (https://, or http:// on this machine),
 * HEED_HUB_CACHE another cache folder, HF_TOKEN a token for gated repositories. */
char *heed_hub_resolve (const char *model, HeedHubProgress progress, gpointer data, GError **error);
/* $HEED_HUB_CACHE, else $XDG_CACHE_HOME/heed/hub. */
char *heed_hub_cache_dir (void);
typedef struct {
  char *name;     /* OWNER/NAME */
  char *revision; /* as asked for: a branch, tag or commit */
  char *commit;
  char *path; /* the snapshot folder */
  guint64 bytes;
} HeedHubEntry;
/* Every cached model revision (HeedHubEntry *), by name. */
GPtrArray *heed_hub_list (void);

/* Pixel formats the preprocessing shader reads (GStreamer's names, same memory layout). */
typedef enum {
  HEED_PIXEL_RGBA,
  HEED_PIXEL_BGRA,
  HEED_PIXEL_RGBX,
  HEED_PIXEL_BGRX,
  HEED_PIXEL_XRGB,
  HEED_PIXEL_XBGR,
  HEED_PIXEL_RGB,
  HEED_PIXEL_BGR,
  HEED_PIXEL_I420,
  HEED_PIXEL_NV12,
  HEED_PIXEL_YUY2,
  HEED_PIXEL_GRAY8,
} HeedPixelFormat;

typedef enum {
  HEED_YUV_BT601,
  HEED_YUV_BT709,
  HEED_YUV_BT2020,
} HeedYuvMatrix;

/* A frame's memory layout as heed copies it: planes packed one after another, each with its
 * own stride, each starting 4-byte aligned. */
typedef struct {
  HeedPixelFormat format;
  guint width, height;
  guint n_planes;
  guint stride[3];
  guint rows[3];      /* rows of each plane */
  guint row_bytes[3]; /* bytes of each row that hold pixels (<= stride) */
  gsize offset[3];
  gsize size; /* bytes of the packed frame */
  HeedYuvMatrix matrix;
  gboolean full_range; /* YUV only: 0-255 rather than 16-235/240 */
  HeedResize resize;
  float crop_fraction; /* of the cropped side (stretch: both sides; crop: the square's side) */
  HeedInterpolation interpolation;
  HeedCropRounding crop_rounding;
} HeedFrameLayout;

/* The largest frame side heed takes: heed_frame_layout_init refuses a larger frame, and the
 * elements' caps do not take one */
#define HEED_FRAME_MAX_SIDE 16384

/* Fills a layout for a width x height frame whose planes have the given strides (bytes).
 * Fails with HEED_ERROR_INVALID on a size outside 1..16384 or a stride too small. matrix,
 * full_range, resize, crop_fraction, interpolation and crop_rounding start as BT.601, limited
 * range, stretch, 1, bilinear and half to even. */
gboolean heed_frame_layout_init (HeedFrameLayout *layout, HeedPixelFormat format, guint width,
                                 guint height, const guint stride[3], GError **error);
/* Takes the model's own preprocessing: its resize, crop, filter and crop rounding. */
void heed_frame_layout_use_model (HeedFrameLayout *layout, const HeedModelConfig *config);
/* Where a point of the model's size x size input lies in the frame, as 0..1 fractions of the
 * frame's width and height (undoing crop or letterbox). */
void heed_frame_point_from_model (const HeedFrameLayout *layout, guint size, float u, float v,
                                  float *x, float *y);

/* ---- the ViT: a plan per model and device, runs per frame in flight ----------------------- */

/* A compiled model: the weights uploaded once, and the kernel table chosen once for the
 * device. Immutable and reference-counted: share it between threads and elements. */
typedef struct _HeedVitPlan HeedVitPlan;
/* The per-frame side: a command pool and command buffers, frame staging, activations, outputs
 * and a fence, for batches of up to max_batch frames. One thread at a time; several runs of
 * one plan work at once (frames in flight). */
typedef struct _HeedVitRun HeedVitRun;

/* How a plan stores the weights of its matrix multiplies (patch embedding, qkv, proj, fc1, fc2,
 * heads), and what those multiplies take. Biases, norms and embeddings stay float32. */
typedef enum {
  HEED_WEIGHTS_F32, /* as float32, float32 arithmetic */
  HEED_WEIGHTS_F16, /* as IEEE halves, rounded to nearest: half the memory and bandwidth (exact
                     * for F16 checkpoints and for BF16 ones within half's range); float32
                     * arithmetic */
  /* as HEED_WEIGHTS_F16, and those multiplies' other operand (the activations) rounded to half
   * too, products summed in float32: what tensor cores take (cooperative matrices, where the
   * device has them; elsewhere the same rounding in the usual kernels) */
  HEED_WEIGHTS_F16_MATMUL,
} HeedWeightFormat;

/* Parses "fp32", "fp16" (also "f32", "float32", "f16", "float16", "half") or "fp16-matmul". */
gboolean heed_weight_format_parse (const char *name, HeedWeightFormat *format, GError **error);
const char *heed_weight_format_name (HeedWeightFormat format);

typedef struct {
  gboolean layer_attention; /* keep every layer's head-averaged attention (for rollout) */
  gboolean profile;         /* time every dispatch with timestamp queries */
  HeedWeightFormat weights;
} HeedVitOptions;

typedef struct {
  const char *name; /* op instance, e.g. "blocks.3.fc1" */
  const char *kind; /* op family: patch_embed, layernorm, qkv, attention, proj, fc1, fc2, head */
  double flops;
  double ms;
} HeedOpTiming;

/* What one frame's forward pass produced. Owned by the caller of heed_vit_run_wait, it
 * outlives later runs, the run and the plan. */
typedef struct {
  HeedModelConfig config;     /* the model's shape (labels NULL: the model owns them) */
  float *logits;              /* [num_classes], NULL when head-less */
  float *embedding;           /* [dim]: the final-norm CLS token */
  float *cls_attention;       /* [num_patches]: last layer's CLS row over patches, heads averaged
                               * (average-pooled models: every query's, averaged) */
  float *cls_attention_heads; /* [heads][tokens]: last layer's CLS row per head (attention
                               * pooling's query row: heed_attention_map_heads () heads) */
  float *layer_attention;     /* [depth][tokens][tokens], heads averaged; NULL unless asked */
  gboolean has_layout;        /* the input was a frame, of this layout */
  HeedFrameLayout layout;
  HeedOpTiming *timings; /* per dispatch of the whole batch, when profiling */
  guint n_timings;
} HeedVitResult;

HeedVitPlan *heed_vit_plan_new (HeedDevice *device, const HeedModel *model,
                                const HeedVitOptions *options, GError **error);
HeedVitPlan *heed_vit_plan_ref (HeedVitPlan *plan);
void heed_vit_plan_destroy (HeedVitPlan **plan);
const HeedModelConfig *heed_vit_plan_get_config (const HeedVitPlan *plan);
HeedDevice *heed_vit_plan_get_device (const HeedVitPlan *plan);
/* Device memory the plan's weights take, padding included. */
guint64 heed_vit_plan_get_weight_bytes (const HeedVitPlan *plan);

/* A run of the plan for batches of 1 to max_batch frames. */
HeedVitRun *heed_vit_run_new (HeedVitPlan *plan, guint max_batch, GError **error);
guint heed_vit_run_get_max_batch (const HeedVitRun *run);
/* Prepares the run for frames of this layout: preprocessing on the device (colour conversion,
 * antialiased resize, crop or letterbox, normalisation with the model's mean and std) runs in
 * front of the forward pass. Call again when the layout changes (not while submitted). */
gboolean heed_vit_run_set_frame_layout (HeedVitRun *run, const HeedFrameLayout *layout,
                                        GError **error);
/* Stages the input of batch slot `slot` (0 .. max_batch - 1); all slots of one submission are
 * of one kind. A float32 NCHW image [in_chans][img_size][img_size], already normalised: */
gboolean heed_vit_run_set_tensor (HeedVitRun *run, guint slot, const float *input, GError **error);
/* A frame of the layout last set, in host memory: planes[i] points at plane i's first row,
 * stride[i] is its stride in bytes (may differ from the layout's). Copied at once. */
gboolean heed_vit_run_set_frame (HeedVitRun *run, guint slot, const guint8 *const planes[3],
                                 const guint stride[3], GError **error);
/* One plane of a frame that is already on the run's device: a VkBuffer (image ==
 * VK_NULL_HANDLE) whose rows are `stride` bytes apart from `offset`, or a VkImage of
 * width x height texels in `layout`, last written at `stage` with `access`. The run copies
 * it into its frame staging on the device, leaves an image in its original layout (or in
 * TRANSFER_SRC_OPTIMAL when that was UNDEFINED) and writes that layout back. */
typedef struct {
  VkBuffer buffer;
  VkDeviceSize offset;
  guint stride;
  VkImage image;
  VkImageLayout layout;
  VkAccessFlags access;
  VkPipelineStageFlags stage;
  guint width, height;
} HeedDevicePlane;
/* A frame in device memory of the run's device, one HeedDevicePlane per plane of the layout
 * last set: the copies are recorded now and run with the submission, so the memory must stay
 * untouched until heed_vit_run_wait returns. */
gboolean heed_vit_run_set_frame_device (HeedVitRun *run, guint slot, HeedDevicePlane *planes,
                                        guint n_planes, GError **error);
/* Submits slots 0 .. n_frames - 1 as one batch and returns at once. */
gboolean heed_vit_run_submit (HeedVitRun *run, guint n_frames, GError **error);
/* Whether the submitted batch is done (wait will not block). */
gboolean heed_vit_run_is_done (HeedVitRun *run);
/* Cuts each forward pass into this many submissions (1 to HEED_VIT_MAX_SLICES, at most one per
 * half block, one for the preprocessing and one for the patch embedding; 1 by default), so a live
 * pipeline can run one slice a frame and other work on the same queue never waits behind a whole
 * forward pass. Submit then runs the first slice; step waits for the slice in flight and submits
 * the next; wait submits what is left, in turn. */
#define HEED_VIT_MAX_SLICES 64
gboolean heed_vit_run_set_slices (HeedVitRun *run, guint slices, GError **error);
/* The slices a forward pass is cut into (set_slices' figure, at most 2 x depth + 2). */
guint heed_vit_run_get_slices (const HeedVitRun *run);
/* The most slices this run's model can be cut into. */
guint heed_vit_run_max_slices (const HeedVitRun *run);
/* Slices of the batch in flight not yet submitted (0: its last is on the device, or none). */
guint heed_vit_run_slices_left (const HeedVitRun *run);
gboolean heed_vit_run_step (HeedVitRun *run, GError **error);
/* Drops the batch in flight: waits for what is on the device, submits no more of it, and
 * leaves the run free for the next batch (no results). */
void heed_vit_run_cancel (HeedVitRun *run);
/* Blocks until the slice in flight is done (its results stay for wait). */
gboolean heed_vit_run_wait_slice (HeedVitRun *run, GError **error);
/* Blocks until the submitted batch is done and hands back one owned result per frame in
 * results[0 .. n_frames - 1]. The run is then free for the next batch. */
gboolean heed_vit_run_wait (HeedVitRun *run, HeedVitResult **results, GError **error);
/* set_tensor + submit + wait for one image. */
HeedVitResult *heed_vit_run_tensor (HeedVitRun *run, const float *input, GError **error);
/* The float32 NCHW input the last batch fed slot `slot` (for checks against run-tensor). A
 * frame's is kept only after heed_vit_run_keep_input (run, TRUE): otherwise the preprocessing
 * writes the patch rows the model reads, and nothing else. */
const float *heed_vit_run_get_input (const HeedVitRun *run, guint slot);
void heed_vit_run_keep_input (HeedVitRun *run, gboolean keep);
/* Times every dispatch of this run's passes (timestamp queries), or not: the plan's `profile`
 * option until set. On lavapipe each timestamp flushes the queue's work, which slows a pass
 * (a DeiT-Tiny forward by about a tenth), so what times the whole pass runs without. */
void heed_vit_run_set_profile (HeedVitRun *run, gboolean profile);
/* Waits for anything submitted, then frees. */
void heed_vit_run_destroy (HeedVitRun **run);

void heed_vit_result_destroy (HeedVitResult **result);

/* ---- results (results.c) ------------------------------------------------------------------ */

/* The k most probable classes (softmax of the logits) whose probability is at least threshold,
 * best first (ties: lower id first). Returns how many were written to ids and probs (0 for a
 * head-less model). */
guint heed_vit_result_top_k (const HeedVitResult *result, guint k, double threshold, guint *ids,
                             double *probs);

typedef enum {
  HEED_ATTENTION_CLS,     /* the last layer's CLS row over the patches, heads averaged */
  HEED_ATTENTION_ROLLOUT, /* attention rollout: needs the plan's layer_attention option */
} HeedAttentionMode;

/* The attention map over the patch grid (grid x grid, row-major), normalised to sum to 1.
 * Rollout falls back to CLS when the plan keeps no per-layer maps. Returns the index of the
 * largest entry. */
guint heed_vit_result_attention_map (const HeedVitResult *result, HeedAttentionMode mode,
                                     float *map);

/* The centre of patch `index` as 0..1 fractions of the frame (of the model's input for a
 * tensor input). */
void heed_vit_result_patch_in_frame (const HeedVitResult *result, guint index, float *x, float *y);

/* The rectangle of the frame the model's square input shows, as 0..1 fractions of the
 * frame's width and height (x, y, width, height): the whole frame for stretch, the centred
 * square for crop, beyond the frame for letterbox (its bars). The one place this geometry
 * lives: the elements hand it on in the metadata and the overlay draws into it. size is the
 * model's input size (the resize rounds to whole pixels at that size). */
void heed_frame_model_region (const HeedFrameLayout *layout, guint size, float region[4]);

/* ---- drawing onto frames (colormap.c, compositor.c) ----------------------------------------- */

typedef enum {
  HEED_COLORMAP_INFERNO,
  HEED_COLORMAP_VIRIDIS,
  HEED_COLORMAP_TURBO,
  HEED_COLORMAP_JET,
  HEED_COLORMAP_GRAY,
} HeedColormap;

/* The map as 256 RGB entries, from value 0 to value 1. */
void heed_colormap_lut (HeedColormap map, guint8 lut[256][3]);

/* A heatmap layer: a grid of values (0..1, the colormap's position) and per-cell alphas
 * (0..1, multiplied by opacity; NULL for 1), upsampled bilinearly (cell centres exact) over a
 * rectangle of the frame in pixels, which may reach outside it. */
typedef struct {
  const float *values;
  const float *alpha;
  guint grid_width, grid_height;
  float x, y, width, height;
  HeedColormap colormap;
  float opacity;
} HeedHeatmapLayer;

/* An image layer: premultiplied ARGB pixels in native-endian 32-bit words (cairo's
 * CAIRO_FORMAT_ARGB32), rows packed, top-left at (x, y) in the frame; may reach outside it. */
typedef struct {
  const guint32 *pixels;
  guint width, height;
  gint x, y;
} HeedImageLayer;

#define HEED_COMPOSITOR_MAX_IMAGES 16

/* Draws layers onto frames in place, on the device, in one pass over the frame: the heatmap
 * first, then the images in order. Frames of every HeedPixelFormat; YUV frames are blended in
 * YUV (pixels no layer covers keep their exact bytes). */
typedef struct _HeedCompositor HeedCompositor;

HeedCompositor *heed_compositor_new (HeedDevice *device, GError **error);
/* The frame format, size and (YUV) matrix and range; strides and resize are not used. */
gboolean heed_compositor_set_frame_layout (HeedCompositor *compositor,
                                           const HeedFrameLayout *layout, GError **error);
/* The layers of the next frames: heatmap may be NULL, n_images at most
 * HEED_COMPOSITOR_MAX_IMAGES. The data are copied. */
gboolean heed_compositor_set_layers (HeedCompositor *compositor, const HeedHeatmapLayer *heatmap,
                                     const HeedImageLayer *images, guint n_images, GError **error);
/* Draws onto a frame in host memory (planes and strides as heed_vit_run_frame takes them). */
gboolean heed_compositor_draw_frame (HeedCompositor *compositor, guint8 *const planes[3],
                                     const guint stride[3], GError **error);
/* Draws onto a frame in device memory of the compositor's device: reads the planes of `src`
 * and writes the drawn frame to `dst` (the same planes, or others of the same size and format
 * when the source is shared and must stay as it is). Image planes end in a readable layout
 * written back to their HeedDevicePlane, access and stage updated. */
gboolean heed_compositor_draw_frame_device (HeedCompositor *compositor, HeedDevicePlane *src,
                                            HeedDevicePlane *dst, guint n_planes, GError **error);
void heed_compositor_destroy (HeedCompositor **compositor);

/* Copies frames of one layout between device planes of `device` (buffers or images, either
 * way), through a packed staging buffer, and waits for each copy: the source may be reused
 * once heed_frame_copier_copy returns. GStreamer's vulkanupload does not wait for its own
 * buffer-to-image copy before giving its input back to whoever wrote it (a decoder may be
 * writing the next frame into it), so heed takes Vulkan buffers and makes the images itself.
 * Image planes end in a readable layout written back to their HeedDevicePlane, access and
 * stage updated (source planes too). */
typedef struct _HeedFrameCopier HeedFrameCopier;
HeedFrameCopier *heed_frame_copier_new (HeedDevice *device, const HeedFrameLayout *layout,
                                        GError **error);
gboolean heed_frame_copier_copy (HeedFrameCopier *copier, HeedDevicePlane *src,
                                 HeedDevicePlane *dst, guint n_planes, GError **error);
void heed_frame_copier_destroy (HeedFrameCopier **copier);

G_END_DECLS

/* ---- keyframes: compact frame embeddings and temporal attention ---------------------------- */

/* layout 192, colour 64, edges 64, each head with one more float that makes its length 1
 * (shaders/keyframe.comp) */
#define HEED_KEYFRAME_DIM 323
#define HEED_KEYFRAME_HEADS 3 /* the three parts, each attended over separately */
#define HEED_KEYFRAME_MAX_WINDOW 16
#define HEED_KEYFRAME_MIN_HISTORY 4 /* earlier frames a candidate needs before it is scored */

typedef struct {
  guint window;      /* earlier frames a frame attends over (default 8) */
  guint persist;     /* frames after a change that must be unexplained too (default 3) */
  float temperature; /* of the softmax over cosine similarities (default 0.5) */
} HeedKeyframeOptions;

void heed_keyframe_options_init (HeedKeyframeOptions *options);

/* Frames in, novelty out: see engine/keyframe.c. One thread at a time. */
typedef struct _HeedKeyframeScorer HeedKeyframeScorer;
HeedKeyframeScorer *heed_keyframe_scorer_new (HeedDevice *device,
                                              const HeedKeyframeOptions *options, GError **error);
void heed_keyframe_scorer_destroy (HeedKeyframeScorer **scorer);
/* For frames of this layout (its resize settings are not used: the whole frame counts). */
gboolean heed_keyframe_scorer_set_layout (HeedKeyframeScorer *scorer, const HeedFrameLayout *layout,
                                          GError **error);
/* Forgets the frames seen (a new stream, a flush). */
void heed_keyframe_scorer_reset (HeedKeyframeScorer *scorer);
/* Adds the next frame (host memory, as heed_vit_run_set_frame takes it). Once enough frames
 * were seen (*have), *novelty is the novelty (0 to about 2) of the frame options.persist
 * frames back: 1 - the cosine between a frame and what attention over the window before the
 * candidate reconstructs, averaged over the heads, the least over the candidate and the
 * persist frames after it. */
gboolean heed_keyframe_scorer_push (HeedKeyframeScorer *scorer, const guint8 *const planes[3],
                                    const guint stride[3], float *novelty, gboolean *have,
                                    GError **error);
/* The same for a frame in device memory of the scorer's device (one HeedDevicePlane per plane
 * of the layout, as heed_vit_run_set_frame_device takes them): copied and resampled on the
 * device (heed-box8's area average instead of the host's point samples), done when it returns;
 * image planes end in a readable layout written back to planes[i]. */
gboolean heed_keyframe_scorer_push_device (HeedKeyframeScorer *scorer, HeedDevicePlane *planes,
                                           guint n_planes, float *novelty, gboolean *have,
                                           GError **error);
/* The ViT's CLS embedding of the frame the next push brings (dim floats, at most
 * HEED_KEYFRAME_MAX_CLS_DIM), for a fourth head: attended over like the others when every
 * frame of a candidate's window and queries gave one (heed_keyframe_scorer_cls_novelty). A
 * new dim (another model) starts its ring again. */
#define HEED_KEYFRAME_MAX_CLS_DIM 4096
gboolean heed_keyframe_scorer_push_cls (HeedKeyframeScorer *scorer, const float *embedding,
                                        guint dim, GError **error);
/* The CLS head's novelty for the candidate of the last push; FALSE when it has none. */
gboolean heed_keyframe_scorer_cls_novelty (const HeedKeyframeScorer *scorer, float *novelty);
/* Each head's novelty for the candidate of the last push (the least over its frames). */
void heed_keyframe_scorer_head_novelty (const HeedKeyframeScorer *scorer,
                                        float novelty[HEED_KEYFRAME_HEADS]);
/* The ring of embeddings on the device, [ring slots][HEED_KEYFRAME_DIM], for tests. */
gboolean heed_keyframe_scorer_read_ring (HeedKeyframeScorer *scorer, float *ring, GError **error);
guint heed_keyframe_scorer_ring_slots (const HeedKeyframeScorer *scorer);
/* The embedding of the frame pushed last (HEED_KEYFRAME_DIM floats) and its mean colour (RGB,
 * 0..1), which the embedding leaves out so that brightness changes do not make keyframes. */
gboolean heed_keyframe_scorer_last_embedding (HeedKeyframeScorer *scorer, float *embedding,
                                              float mean_rgb[3], GError **error);
/* How far apart two frames' embeddings are: the mean over the heads of 1 - their cosine
 * (0: the same picture; 1: unrelated; at most 2). */
float heed_keyframe_embedding_distance (const float *a, const float *b);
/* A frame's importance in 0..1 from its novelty and the novelty of recent frames (n of them):
 * 0.5 at four times their median. */
float heed_keyframe_importance (float novelty, const float *recent, guint n);
/* The same per head (heed_keyframe_scorer_head_novelty), each against its own recent values
 * (recent: n rows of HEED_KEYFRAME_HEADS), the heads' ratios averaged: 0.5 when they are four
 * times their medians on average. cls_novelty, when not NULL, is a fourth head with its own n_cls
 * recent values (heed_keyframe_scorer_cls_novelty). */
float heed_keyframe_heads_importance (const float novelty[HEED_KEYFRAME_HEADS], const float *recent,
                                      guint n, const float *cls_novelty, const float *recent_cls,
                                      guint n_cls);

/* ---- sound: log-mel frames and spectral flux --------------------------------------------------
 */

#define HEED_AUDIO_RATE 16000 /* what the sound is resampled to */
#define HEED_AUDIO_WINDOW 400 /* 25 ms */
#define HEED_AUDIO_HOP 160    /* 10 ms */
#define HEED_AUDIO_FFT 512
#define HEED_AUDIO_BINS 257
#define HEED_AUDIO_MELS 64

typedef struct _HeedAudioFeatures HeedAudioFeatures;
HeedAudioFeatures *heed_audio_features_new (HeedDevice *device, GError **error);
void heed_audio_features_destroy (HeedAudioFeatures **features);
/* A new stream of mono samples at `rate` Hz. */
void heed_audio_features_reset (HeedAudioFeatures *features, guint rate);
/* Adds n mono samples; appends to flux (floats) the spectral flux of every 10 ms hop that is
 * now complete: hop i covers 16 kHz samples i x 160 .. i x 160 + 399 since the reset. */
gboolean heed_audio_features_push (HeedAudioFeatures *features, const float *mono, guint n,
                                   GArray *flux, GError **error);
/* The log-mel rows [HEED_AUDIO_MELS] of the last push's hops, for tests. */
const float *heed_audio_features_last_logmel (const HeedAudioFeatures *features);
/* VGGish's mel filterbank [HEED_AUDIO_MELS][HEED_AUDIO_BINS]. */
void heed_audio_mel_matrix (float *mel);

#endif
