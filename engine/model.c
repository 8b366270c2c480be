/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The ViT loader (timm and Hugging Face names; F32, F16, BF16, F64) for safetensors files and
 * PyTorch checkpoints (read by torch_file.c into the same table of tensors), the writer used
 * for random benchmark models, and the model's FLOP count.
 *
 * A model file is untrusted: the header length, every tensor's dtype, shape and byte range are
 * checked (overflow-safe) before any byte of it is read, and each tensor's shape is checked
 * against the shape the architecture needs. */
#include "heed-private.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_HEADER_BYTES (100u << 20)
#define MAX_SHARDS 4096 /* files one sharded checkpoint may name */
#define MAX_DIMS 8

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };
/* OpenAI's CLIP's, OpenCLIP's default */
static const float openai_mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float openai_std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };

typedef enum { DT_UNSUPPORTED, DT_F32, DT_F16, DT_BF16, DT_F64 } DType;

typedef struct {
  char *dtype_name;
  DType dtype;
  guint ndim;
  guint64 shape[MAX_DIMS];
  guint64 numel;
  guint64 begin, end;  /* within a safetensors file's data section */
  const guint8 *bytes; /* numel elements, row-major */
  guint8 *owned;       /* bytes, where they are a copy of a PyTorch checkpoint's view */
  gboolean taken;      /* read into the model (see check_blocks_read) */
  char *file_name;     /* its name in the file, where the loader reads it by another (or NULL) */
  guint shard;         /* the file it is in, of a checkpoint sharded over several */
} TensorEntry;

typedef struct {
  const guint8 *data; /* the data section (of the shard being read) */
  guint64 data_size;
  guint shard;            /* the shard being read: 0 in a checkpoint of one file */
  GHashTable *tensors;    /* name -> TensorEntry */
  JsonObject *metadata;   /* may be NULL */
  JsonObject *config;     /* config.json (CLIP's and SigLIP's: its vision_config), may be NULL */
  JsonObject *config_top; /* config.json itself: a classifier's id2label is there */
  JsonObject *preproc;    /* preprocessor_config.json, may be NULL */
  const char *source;
  const char *prefix; /* "", "vit.", "deit." or "dinov2." for Hugging Face names */
  gboolean hf;
  gboolean torch;       /* a PyTorch checkpoint, whose tensors may share bytes (tied weights) */
  gboolean dinov2;      /* transformers' DINOv2: timm's names inside its blocks (norm1, mlp.fc1),
                         * LayerScale as layer_scale1/2.lambda1 */
  gboolean clip;        /* transformers' CLIP image tower (vision_model.): names of its own, the
                         * settings in config.json's vision_config */
  const char *pre_norm; /* its norm before the blocks: CLIP's pre_layrnorm, OWL-ViT's
                         * pre_layernorm */
  /* transformers' layouts without a class token: SigLIP's image tower and I-JEPA's, whose
   * classifiers read the mean of every normed token */
  gboolean no_class_token;
  gboolean siglip;  /* transformers' SigLIP image tower: CLIP's names without the class token
                     * and pre_layrnorm, a patch bias, attention pooling (head.) or, in
                     * SiglipForImageClassification, the mean of every normed token */
  double hf_pixels; /* the side of the square transformers' processor hands the model, or 0 */
  /* the prefix tokens after the class token, named once the layout is known: the distillation
   * token (timm's dist_token, transformers' DeiT embeddings.distillation_token) and the register
   * tokens (timm's reg_token, transformers' DINOv2 embeddings.register_tokens, which unlike
   * timm's has no position: see read_weights); empty, found nowhere, where a layout has none */
  char dist_token[96], reg_token[96];
  /* the register tokens have no position, and go in after the class token once the others'
   * are added (transformers' DINOv2, and facebookresearch/dinov2's own checkpoints) */
  gboolean registers_unpositioned;
  /* BEiT (timm's beit, transformers' Beit and Data2VecVision): */
  gboolean rel_shared;   /* one relative position bias table for every block */
  gboolean no_pos_embed; /* no position embedding: the bias is the only position */
  gboolean beit_pooler;  /* transformers' pooler.layernorm: the mean patch token, normed */
  /* the MLP's layers inside a block: timm's mlp.fc1 and mlp.fc2; SwiGLU's mlp.w12 and mlp.w3
   * (facebookresearch/dinov2) or mlp.weights_in and mlp.weights_out (transformers' DINOv2) */
  const char *fc1, *fc2;
  /* SwiGLU's gate and value in two tensors (transformers' DINOv2 since its LlamaMLP-style
   * rewrite: mlp.gate_proj, then mlp.up_proj, fc1 their rows one after the other) */
  const char *fc1_value;
  /* timm's EVA: the query's, key's and value's projections apart (q_proj, k_proj, v_proj) */
  gboolean split_qkv;
  /* SigLIP 2's NaFlex towers: the patch embedding a Linear over (row, column, channel) */
  gboolean patch_linear;
  /* transformers' DINOv3ViTModel, its tensors renamed to timm's (rename_hf_dinov3) */
  gboolean hf_dinov3;
  /* the rotary embedding's reference grid is the checkpoint's own (the Perception Encoder's
   * ref_feat_shape): set once the grid is known */
  gboolean rope_ref_native;
  /* an OpenCLIP checkpoint's image tower, its tensors renamed to timm's (read_open_clip), and
   * open_clip_config.json's preprocess_cfg (or NULL) */
  gboolean open_clip;
  JsonObject *open_clip_preprocess;
  /* the timm config.json heed made where the files say it otherwise (OpenCLIP's model_cfg, a
   * training checkpoint's arch, BLIP's or InternViT's settings with their classes' defaults),
   * which L->config then points at (owned here), or NULL */
  JsonObject *made_config;
  /* AIMv2 in Apple's own names or transformers' (Aimv2VisionModel, Aimv2Model's vision_model.),
   * renamed to timm's (rename_aimv2) */
  gboolean aimv2;
  /* a training checkpoint's model name (timm's train.py "arch"), from its first file, or NULL */
  char *checkpoint_arch;
  /* whose names a layout's tensors had, and under which prefix, where they were renamed to
   * timm's (OpenCLIP's, AIMv2's, BLIP's, ...), for people; NULL otherwise */
  const char *renamed_from, *renamed_under;
} Loader;

static void
entry_free (gpointer p)
{
  TensorEntry *e = p;
  g_free (e->dtype_name);
  g_free (e->file_name);
  g_free (e->owned);
  g_free (e);
}

static gboolean model_error (GError **error, const Loader *L, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

gboolean
heed_model_error_valist (GError **error, const char *source, const char *format, va_list args)
{
  char *msg = g_strdup_vprintf (format, args);
  g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL, "%s: %s", source, msg);
  g_free (msg);
  return FALSE;
}

static gboolean
model_error (GError **error, const Loader *L, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  heed_model_error_valist (error, L->source, format, args);
  va_end (args);
  return FALSE;
}

static gboolean
json_uint (JsonNode *node, guint64 *out)
{
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

/* A safetensors dtype name: the weights' types, and the others' element sizes (0: unknown) */
static DType
dtype_of (const char *dtype, guint64 *elem_size)
{
  static const struct {
    const char *name;
    DType dtype;
    guint size;
  } types[] = {
    { "F32", DT_F32, 4 },
    { "F16", DT_F16, 2 },
    { "BF16", DT_BF16, 2 },
    /* doubles: a position embedding made by NumPy's sin-cos code and kept as it came (MAE's
     * descendants), or a checkpoint saved in double; rounded to float, as .float () does */
    { "F64", DT_F64, 8 },
    /* allowed in the file (counters, position ids), refused if a weight uses them */
    { "I64", DT_UNSUPPORTED, 8 },
    { "U64", DT_UNSUPPORTED, 8 },
    { "I32", DT_UNSUPPORTED, 4 },
    { "U32", DT_UNSUPPORTED, 4 },
    { "I16", DT_UNSUPPORTED, 2 },
    { "U16", DT_UNSUPPORTED, 2 },
    { "I8", DT_UNSUPPORTED, 1 },
    { "U8", DT_UNSUPPORTED, 1 },
    { "BOOL", DT_UNSUPPORTED, 1 },
  };
  *elem_size = g_str_has_prefix (dtype, "F8") ? 1 : 0;
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (strcmp (dtype, types[i].name) == 0) {
      *elem_size = types[i].size;
      return types[i].dtype;
    }
  return DT_UNSUPPORTED;
}

/* A tensor into the table; one name in two shards of a checkpoint is refused (which would
 * the model take?) */
static gboolean
insert_entry (Loader *L, const char *name, TensorEntry *e, GError **error)
{
  if (g_hash_table_contains (L->tensors, name)) {
    entry_free (e);
    return model_error (error, L, "tensor '%s' is in more than one shard", name);
  }
  g_hash_table_insert (L->tensors, g_strdup (name), e);
  return TRUE;
}

static gboolean
parse_entry (Loader *L, const char *name, JsonNode *node, GError **error)
{
  TensorEntry *e;
  JsonObject *o;
  JsonArray *shape, *offsets;
  const char *dtype;
  guint64 elem_size = 0, bytes;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return model_error (error, L, "header entry '%s' is not an object", name);
  o = json_node_get_object (node);
  if (!json_object_has_member (o, "dtype") || !json_object_has_member (o, "shape") ||
      !json_object_has_member (o, "data_offsets"))
    return model_error (error, L, "tensor '%s' lacks dtype, shape or data_offsets", name);
  JsonNode *dn = json_object_get_member (o, "dtype");
  JsonNode *sn = json_object_get_member (o, "shape");
  JsonNode *on = json_object_get_member (o, "data_offsets");
  if (!JSON_NODE_HOLDS_VALUE (dn) || json_node_get_value_type (dn) != G_TYPE_STRING)
    return model_error (error, L, "tensor '%s' has a dtype that is not a string", name);
  if (!JSON_NODE_HOLDS_ARRAY (sn) || !JSON_NODE_HOLDS_ARRAY (on))
    return model_error (error, L, "tensor '%s' has a shape or data_offsets that is not an array",
                        name);
  dtype = json_node_get_string (dn);
  shape = json_node_get_array (sn);
  offsets = json_node_get_array (on);

  e = g_new0 (TensorEntry, 1);
  e->dtype_name = g_strdup (dtype);
  e->dtype = dtype_of (dtype, &elem_size);
  if (!elem_size) {
    model_error (error, L, "tensor '%s' has unknown dtype '%s'", name, dtype);
    entry_free (e);
    return FALSE;
  }

  e->ndim = json_array_get_length (shape);
  if (e->ndim > MAX_DIMS) {
    model_error (error, L, "tensor '%s' has %u dimensions (at most %d)", name,
                 json_array_get_length (shape), MAX_DIMS);
    entry_free (e);
    return FALSE;
  }
  e->numel = 1;
  for (guint i = 0; i < e->ndim; i++) {
    if (!json_uint (json_array_get_element (shape, i), &e->shape[i])) {
      model_error (error, L,
                   "tensor '%s' has a shape entry that is not a non-negative "
                   "integer",
                   name);
      entry_free (e);
      return FALSE;
    }
    if (e->shape[i] != 0 && e->numel > G_MAXUINT64 / e->shape[i]) {
      model_error (error, L, "tensor '%s' has a shape whose element count overflows", name);
      entry_free (e);
      return FALSE;
    }
    e->numel *= e->shape[i];
  }
  if (json_array_get_length (offsets) != 2 ||
      !json_uint (json_array_get_element (offsets, 0), &e->begin) ||
      !json_uint (json_array_get_element (offsets, 1), &e->end)) {
    model_error (error, L,
                 "tensor '%s' needs data_offsets [begin, end] of non-negative "
                 "integers",
                 name);
    entry_free (e);
    return FALSE;
  }
  if (e->numel > G_MAXUINT64 / elem_size) {
    model_error (error, L, "tensor '%s' is too large", name);
    entry_free (e);
    return FALSE;
  }
  bytes = e->numel * elem_size;
  if (e->begin > e->end || e->end > L->data_size) {
    model_error (error, L,
                 "tensor '%s' has data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                 "] outside the %" G_GUINT64_FORMAT "-byte data section (file truncated?)",
                 name, e->begin, e->end, L->data_size);
    entry_free (e);
    return FALSE;
  }
  if (e->end - e->begin != bytes) {
    model_error (error, L,
                 "tensor '%s' holds %" G_GUINT64_FORMAT " bytes but its shape "
                 "and dtype %s need %" G_GUINT64_FORMAT,
                 name, e->end - e->begin, dtype, bytes);
    entry_free (e);
    return FALSE;
  }
  e->bytes = L->data + e->begin;
  e->shard = L->shard;
  return insert_entry (L, name, e, error);
}

/* A PyTorch checkpoint's tensors into the table, checked by torch_file.c as parse_entry checks
 * a safetensors header's */
static gboolean
take_torch_tensors (Loader *L, const guint8 *data, gsize size, GError **error)
{
  char *arch = NULL;
  GPtrArray *tensors = heed_torch_read (data, size, L->source, &arch, error);
  if (!tensors)
    return FALSE;
  if (!L->checkpoint_arch)
    L->checkpoint_arch = g_steal_pointer (&arch);
  g_free (arch);
  for (guint i = 0; i < tensors->len; i++) {
    HeedTorchTensor *t = tensors->pdata[i];
    TensorEntry *e = g_new0 (TensorEntry, 1);
    guint64 elem_size;
    e->dtype_name = g_strdup (t->dtype);
    e->dtype = dtype_of (t->dtype, &elem_size);
    e->ndim = t->ndim;
    memcpy (e->shape, t->shape, sizeof e->shape);
    e->numel = t->numel;
    e->bytes = t->bytes;
    e->owned = g_steal_pointer (&t->owned);
    e->shard = L->shard;
    if (!insert_entry (L, t->name, e, error)) {
      g_ptr_array_free (tensors, TRUE);
      return FALSE;
    }
  }
  g_ptr_array_free (tensors, TRUE);
  return TRUE;
}

static gint
by_begin (gconstpointer a, gconstpointer b)
{
  const TensorEntry *x = *(TensorEntry *const *) a, *y = *(TensorEntry *const *) b;
  if (x->shard != y->shard) /* each shard's data section on its own */
    return x->shard < y->shard ? -1 : 1;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* The format forbids tensors sharing bytes: a file whose ranges overlap is damaged or crafted
 * (one tensor's weights would silently be another's). */
static gboolean
check_no_overlap (const Loader *L, GError **error)
{
  GPtrArray *entries = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key, value;
  gboolean ok = TRUE;
  g_hash_table_iter_init (&it, L->tensors);
  while (g_hash_table_iter_next (&it, &key, &value))
    if (((TensorEntry *) value)->end > ((TensorEntry *) value)->begin) /* empty ones hold none */
      g_ptr_array_add (entries, value);
  g_ptr_array_sort (entries, by_begin);
  for (guint i = 1; i < entries->len && ok; i++) {
    const TensorEntry *prev = entries->pdata[i - 1], *cur = entries->pdata[i];
    if (cur->shard == prev->shard && cur->begin < prev->end) {
      const char *a = NULL, *b = NULL;
      g_hash_table_iter_init (&it, L->tensors);
      while (g_hash_table_iter_next (&it, &key, &value))
        if (value == prev)
          a = key;
        else if (value == cur)
          b = key;
      if (strcmp (a, b) > 0) { /* named in a stable order */
        const char *t = a;
        a = b, b = t;
      }
      ok =
          model_error (error, L,
                       "tensors '%s' and '%s' overlap in the data section (bytes %" G_GUINT64_FORMAT
                       "..%" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                       "): the file is damaged",
                       a, b, prev->begin, prev->end, cur->begin, cur->end);
    }
  }
  g_ptr_array_free (entries, TRUE);
  return ok;
}

static JsonParser *
parse_json (const char *text, gsize len, const Loader *L, const char *what, GError **error)
{
  JsonParser *parser = json_parser_new ();
  GError *jerr = NULL;
  if (!json_parser_load_from_data (parser, text, (gssize) len, &jerr)) {
    model_error (error, L, "%s is not valid JSON: %s", what, jerr->message);
    g_error_free (jerr);
    g_object_unref (parser);
    return NULL;
  }
  if (!json_parser_get_root (parser)) {
    model_error (error, L, "%s is not valid JSON: it is empty", what);
    g_object_unref (parser);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    model_error (error, L, "%s is not a JSON object", what);
    g_object_unref (parser);
    return NULL;
  }
  return parser;
}

static TensorEntry *
find (const Loader *L, const char *name)
{
  return g_hash_table_lookup (L->tensors, name);
}

/* The first tensor (in name order, for a message that does not vary) under any of the n
 * prefixes that nothing read, by its name in the file; or NULL */
static const char *
first_unread (const Loader *L, const char *const *prefixes, guint n)
{
  const char *unread = NULL, *shown = NULL;
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, L->tensors);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    const TensorEntry *e = value;
    gboolean under = FALSE;
    for (guint i = 0; i < n && !under; i++)
      under = g_str_has_prefix (key, prefixes[i]);
    if (!e->taken && under && (!unread || strcmp (key, unread) < 0))
      unread = key, shown = e->file_name ? e->file_name : key;
  }
  return shown;
}

/* Hugging Face names, with the detected prefix ("vit." for ViTForImageClassification). */
static char *
hf_name (const Loader *L, const char *suffix)
{
  return g_strconcat (L->prefix, suffix, NULL);
}

/* Block `layer`'s tensor in transformers' names, past the prefix, given timm's suffix
 * (norm1.weight) and transformers' ViT's (layernorm_before.weight): its DINOv2 keeps timm's
 * names for the norms and the MLP; its CLIP keeps the MLP's and has names of its own for the
 * rest, under encoder.layers.N. */
static void
hf_block_name (const Loader *L, guint layer, const char *timm_suffix, const char *hf_suffix,
               char *out, gsize size)
{
  static const char *clip_names[][2] = {
    { "norm1.", "layer_norm1." },
    { "norm2.", "layer_norm2." },
    { "attn.proj.", "self_attn.out_proj." },
  };
  gboolean timm_like =
      g_str_has_prefix (timm_suffix, "norm") || g_str_has_prefix (timm_suffix, "mlp.");
  const char *suffix = (L->dinov2 || L->clip) && timm_like ? timm_suffix : hf_suffix;
  const char *tail = "";
  for (guint i = 0; i < G_N_ELEMENTS (clip_names) && L->clip; i++)
    if (g_str_has_prefix (timm_suffix, clip_names[i][0])) {
      suffix = clip_names[i][1];
      tail = timm_suffix + strlen (clip_names[i][0]);
    }
  g_snprintf (out, size, "encoder.%s.%u.%s%s", L->clip ? "layers" : "layer", layer, suffix, tail);
}

/* A name outside the blocks: transformers' ViT's, or its CLIP's */
static const char *
hf_or_clip (const Loader *L, const char *vit, const char *clip)
{
  return L->clip ? clip : vit;
}

/* The same with the prefix */
static char *
hf_block_full_name (const Loader *L, guint layer, const char *timm_suffix, const char *hf_suffix)
{
  char suffix[128];
  hf_block_name (L, layer, timm_suffix, hf_suffix, suffix, sizeof suffix);
  return hf_name (L, suffix);
}

/* A classification head's tensor ("weight" or "bias"): the class token's head (timm's head,
 * transformers' classifier) or, with dist, the distillation token's (timm's head_dist).
 * transformers' DeiTForImageClassificationWithTeacher names them cls_classifier and
 * distillation_classifier. */
static char *
head_name (const Loader *L, gboolean dist, const char *what)
{
  if (!L->hf)
    return g_strconcat (dist ? "head_dist." : "head.", what, NULL);
  if (dist || find (L, "cls_classifier.weight"))
    return g_strconcat (dist ? "distillation_classifier." : "cls_classifier.", what, NULL);
  return g_strconcat ("classifier.", what, NULL);
}

/* Converts tensor `name` to float32 after checking its shape equals `shape` (ndim entries;
 * leading 1s in the file are accepted, as timm stores cls_token as [1, 1, D]). */
static float *
take (const Loader *L, const char *name, guint ndim, const guint64 *shape, GError **error)
{
  TensorEntry *e = find (L, name);
  guint lead;
  if (!e) {
    /* a layout renamed at load is missing a tensor by the name heed looks for, not the file's */
    model_error (error, L, "tensor '%s' is missing%s%s%s", name,
                 L->renamed_from ? " (timm's name: heed reads " : "",
                 L->renamed_from ? L->renamed_from : "",
                 L->renamed_from ? " names by timm's)" : "");
    return NULL;
  }
  e->taken = TRUE;
  const char *shown = e->file_name ? e->file_name : name; /* the file's name in messages */
  if (e->ndim < ndim)
    goto bad_shape;
  lead = e->ndim - ndim;
  for (guint i = 0; i < lead; i++)
    if (e->shape[i] != 1)
      goto bad_shape;
  for (guint i = 0; i < ndim; i++)
    if (e->shape[lead + i] != shape[i])
      goto bad_shape;
  if (e->dtype == DT_UNSUPPORTED) {
    model_error (error, L, "tensor '%s' has dtype %s; weights must be F32, F16, BF16 or F64", shown,
                 e->dtype_name);
    return NULL;
  }
  {
    float *out = g_try_new (float, MAX (e->numel, 1));
    const guint8 *src = e->bytes;
    if (!out) {
      model_error (error, L, "out of memory for tensor '%s'", shown);
      return NULL;
    }
    for (guint64 i = 0; i < e->numel; i++) {
      uint16_t h;
      switch (e->dtype) {
      case DT_F32: memcpy (&out[i], src + 4 * i, 4); break;
      case DT_F64: {
        double d;
        memcpy (&d, src + 8 * i, 8);
        out[i] = (float) d;
        break;
      }
      case DT_F16:
        memcpy (&h, src + 2 * i, 2);
        out[i] = heed_f16_to_f32 (h);
        break;
      default:
        memcpy (&h, src + 2 * i, 2);
        out[i] = heed_bf16_to_f32 (h);
        break;
      }
      /* a NaN or infinite weight makes every logit NaN: refuse it here, by name */
      if (!isfinite (out[i])) {
        model_error (error, L,
                     "tensor '%s' holds a%s value at element %" G_GUINT64_FORMAT
                     ": the weights are damaged",
                     shown, isnan (out[i]) ? " NaN" : "n infinite", i);
        g_free (out);
        return NULL;
      }
    }
    return out;
  }
bad_shape : {
  GString *have = g_string_new ("[");
  GString *want = g_string_new ("[");
  for (guint i = 0; i < e->ndim; i++)
    g_string_append_printf (have, "%s%" G_GUINT64_FORMAT, i ? ", " : "", e->shape[i]);
  for (guint i = 0; i < ndim; i++)
    g_string_append_printf (want, "%s%" G_GUINT64_FORMAT, i ? ", " : "", shape[i]);
  model_error (error, L, "tensor '%s' has shape %s], expected %s]", shown, have->str, want->str);
  g_string_free (have, TRUE);
  g_string_free (want, TRUE);
  return NULL;
}
}

/* Like take(), but a missing tensor gives zeros (timm's qkv_bias=False). */
static float *
take_or_zero (const Loader *L, const char *name, guint64 n, GError **error)
{
  if (!find (L, name))
    return g_new0 (float, n);
  return take (L, name, 1, &n, error);
}

/* A bias of n values: in an RMSNorm model (AIMv2's Linear layers and norms have none) like
 * take_or_zero (), where in other layouts a missing bias is a damaged file; else like take (). */
static float *
take_bias (const Loader *L, const HeedModelConfig *c, const char *name, guint64 n, GError **error)
{
  return c->rms_norm ? take_or_zero (L, name, n, error) : take (L, name, 1, &n, error);
}

/* A metadata or config value as a string: metadata values are strings by the format's rules,
 * config.json values are JSON. */
static const char *
meta_string (const Loader *L, const char *key)
{
  if (!L->metadata || !json_object_has_member (L->metadata, key))
    return NULL;
  JsonNode *n = json_object_get_member (L->metadata, key);
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gboolean
meta_uint (const Loader *L, const char *key, guint *out, GError **error)
{
  const char *s = meta_string (L, key);
  guint64 v;
  if (!s)
    return TRUE;
  if (!g_ascii_string_to_unsigned (s, 10, 1, 1u << 20, &v, NULL))
    return model_error (error, L, "__metadata__ %s='%s' is not a positive integer", key, s);
  *out = (guint) v;
  return TRUE;
}

static gboolean
config_uint (const Loader *L, const char *key, guint *out)
{
  guint64 v;
  if (!L->config || !json_object_has_member (L->config, key) ||
      !json_uint (json_object_get_member (L->config, key), &v) || v == 0 || v > (1u << 20))
    return FALSE;
  *out = (guint) v;
  return TRUE;
}

/* Parses a metadata string holding a JSON array; NULL if it is anything else. */
static JsonParser *
parse_array (const char *text)
{
  JsonParser *p = json_parser_new ();
  if (json_parser_load_from_data (p, text, -1, NULL) && json_parser_get_root (p) &&
      JSON_NODE_HOLDS_ARRAY (json_parser_get_root (p)))
    return p;
  g_object_unref (p);
  return NULL;
}

static gboolean
meta_triple (const Loader *L, const char *key, float out[3], GError **error)
{
  const char *s = meta_string (L, key);
  JsonParser *p;
  JsonArray *a;
  if (!s)
    return TRUE;
  p = parse_array (s);
  if (!p || json_array_get_length (a = json_node_get_array (json_parser_get_root (p))) != 3) {
    g_clear_object (&p);
    return model_error (error, L, "__metadata__ %s must be a JSON array of 3 numbers", key);
  }
  for (guint i = 0; i < 3; i++) {
    JsonNode *n = json_array_get_element (a, i);
    if (!JSON_NODE_HOLDS_VALUE (n) || (json_node_get_value_type (n) != G_TYPE_DOUBLE &&
                                       json_node_get_value_type (n) != G_TYPE_INT64)) {
      g_object_unref (p);
      return model_error (error, L, "__metadata__ %s must be a JSON array of 3 numbers", key);
    }
    out[i] = (float) json_node_get_double (n);
  }
  g_object_unref (p);
  return TRUE;
}

/* ---- the checkpoint's own preprocessing ---- */

static gboolean
json_number (JsonNode *n, double *out)
{
  if (!n || !JSON_NODE_HOLDS_VALUE (n) ||
      (json_node_get_value_type (n) != G_TYPE_DOUBLE &&
       json_node_get_value_type (n) != G_TYPE_INT64))
    return FALSE;
  *out = json_node_get_double (n);
  return TRUE;
}

/* Three numbers from a JSON array of 3 (or one number, for all three channels). */
static gboolean
json_triple (JsonNode *n, float out[3])
{
  double v[3];
  if (n && JSON_NODE_HOLDS_ARRAY (n) && json_array_get_length (json_node_get_array (n)) == 3) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < 3; i++)
      if (!json_number (json_array_get_element (a, i), &v[i]))
        return FALSE;
  } else if (json_number (n, &v[0])) {
    v[1] = v[2] = v[0];
  } else {
    return FALSE;
  }
  for (guint i = 0; i < 3; i++)
    out[i] = (float) v[i];
  return TRUE;
}

static JsonNode *
member (JsonObject *o, const char *key)
{
  return o && json_object_has_member (o, key) ? json_object_get_member (o, key) : NULL;
}

/* A member that is a JSON object (timm's pretrained_cfg and model_args, transformers'
 * vision_config and id2label), or NULL */
static JsonObject *
member_object (JsonObject *o, const char *key)
{
  JsonNode *n = member (o, key);
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* timm's pretrained_cfg input_size [3, H, W]: its W, or NULL */
static JsonNode *
timm_input_width (JsonObject *pretrained_cfg)
{
  JsonNode *in = member (pretrained_cfg, "input_size");
  JsonArray *a = in && JSON_NODE_HOLDS_ARRAY (in) ? json_node_get_array (in) : NULL;
  return a && json_array_get_length (a) == 3 ? json_array_get_element (a, 2) : NULL;
}

/* A JSON boolean, or `otherwise` when the member is absent or of another type. */
static gboolean
json_bool (JsonObject *o, const char *key, gboolean otherwise)
{
  JsonNode *n = member (o, key);
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return otherwise;
  return json_node_get_boolean (n);
}

static const char *
json_str (JsonObject *o, const char *key)
{
  JsonNode *n = member (o, key);
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

/* A transformers size: {"height": H, "width": W}, {"shortest_edge": S} or a number, which
 * some processors read as the shortest edge and the others as a square. */
static gboolean
hf_size (JsonNode *n, gboolean number_is_shortest, double *edge, gboolean *shortest)
{
  double h, w;
  *shortest = FALSE;
  if (json_number (n, edge)) {
    *shortest = number_is_shortest;
    return TRUE;
  }
  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    return FALSE;
  JsonObject *o = json_node_get_object (n);
  if (json_number (member (o, "shortest_edge"), edge)) {
    *shortest = TRUE;
    return TRUE;
  }
  if (json_number (member (o, "height"), &h) && json_number (member (o, "width"), &w) && h == w) {
    *edge = h;
    return TRUE;
  }
  return FALSE;
}

static void
note_source (HeedModelConfig *c, const char *what, const char *where)
{
  gsize len = strlen (c->preprocess_source);
  g_snprintf (c->preprocess_source + len, sizeof c->preprocess_source - len, "%s%s from %s",
              len ? "; " : "", what, where);
}

/* Mean, std, resize, crop and interpolation as the checkpoint's authors ship them: each from
 * the first of __metadata__, timm's config.json pretrained_cfg and transformers'
 * preprocessor_config.json that gives it; ImageNet's mean/std and a plain resize otherwise. */
static gboolean
read_preprocess (Loader *L, HeedModelConfig *c, GError **error)
{
  static const char *timm = "config.json pretrained_cfg", *hf = "preprocessor_config.json";
  JsonObject *t = member_object (L->config, "pretrained_cfg");
  JsonObject *h = L->preproc;
  gboolean have_mean = FALSE, have_geometry = FALSE, have_interp = FALSE;
  double v;

  memcpy (c->mean, imagenet_mean, sizeof c->mean);
  memcpy (c->std, imagenet_std, sizeof c->std);
  c->resize = HEED_RESIZE_STRETCH;
  c->crop_fraction = 1.0f;
  c->interpolation = HEED_INTERPOLATION_BILINEAR;
  c->crop_rounding = HEED_CROP_ROUND_HALF_EVEN;
  c->preprocess_source[0] = '\0';

  /* mean and std */
  if (meta_string (L, "mean") || meta_string (L, "std")) {
    if (!meta_triple (L, "mean", c->mean, error) || !meta_triple (L, "std", c->std, error))
      return FALSE;
    have_mean = TRUE;
    note_source (c, "mean/std", "__metadata__");
  }
  /* OpenCLIP's preprocess_cfg, with open_clip's defaults where it says nothing */
  static const char *oc = "open_clip_config.json preprocess_cfg",
                    *oc_defaults = "OpenCLIP's defaults";
  JsonObject *o = L->open_clip_preprocess;
  if (!have_mean && L->open_clip) {
    float mean[3], std[3];
    gboolean given = json_triple (member (o, "mean"), mean) && json_triple (member (o, "std"), std);
    memcpy (c->mean, given ? mean : openai_mean, sizeof c->mean);
    memcpy (c->std, given ? std : openai_std, sizeof c->std);
    have_mean = TRUE;
    note_source (c, "mean/std", given ? oc : oc_defaults);
  }
  if (!have_mean && t && json_triple (member (t, "mean"), c->mean) &&
      json_triple (member (t, "std"), c->std)) {
    have_mean = TRUE;
    note_source (c, "mean/std", timm);
  }
  if (!have_mean && h) {
    /* transformers normalises (x * rescale_factor - image_mean) / image_std */
    gboolean normalize = json_bool (h, "do_normalize", TRUE);
    double rescale = 1.0 / 255.0;
    if (!json_bool (h, "do_rescale", TRUE))
      rescale = 1.0;
    else if (json_number (member (h, "rescale_factor"), &v) && v > 0)
      rescale = v;
    float mean[3] = { 0, 0, 0 }, std[3] = { 1, 1, 1 };
    if (normalize && (!json_triple (member (h, "image_mean"), mean) ||
                      !json_triple (member (h, "image_std"), std)))
      memcpy (mean, imagenet_mean, sizeof mean), memcpy (std, imagenet_std, sizeof std);
    /* heed's shader sees x / 255: fold any other rescale into mean and std */
    double k = 255.0 * rescale;
    for (guint i = 0; i < 3; i++)
      c->mean[i] = (float) (mean[i] / k), c->std[i] = (float) (std[i] / k);
    have_mean = TRUE;
    note_source (c, "mean/std", hf);
  }
  for (guint i = 0; i < 3; i++)
    if (!(c->std[i] > 0.0f) || !isfinite (c->std[i]) || !isfinite (c->mean[i]))
      return model_error (error, L, "the preprocessing's std must be positive and mean finite");

  /* resize and crop */
  if (meta_string (L, "crop_pct")) {
    char *end = NULL;
    v = g_ascii_strtod (meta_string (L, "crop_pct"), &end);
    if (!end || *end || !(v > 0 && v <= 1))
      return model_error (error, L, "__metadata__ crop_pct must be a number in (0, 1]");
    c->resize = HEED_RESIZE_CROP;
    c->crop_fraction = (float) (c->img_size / floor (c->img_size / v));
    have_geometry = TRUE;
    note_source (c, "crop", "__metadata__");
  }
  if (!have_geometry && t && json_number (member (t, "crop_pct"), &v) && v > 0 && v <= 1) {
    const char *mode = json_str (t, "crop_mode");
    /* timm's eval transform: the shorter side (squash: both sides) to
     * floor (img_size / crop_pct), then a centre crop of img_size */
    c->resize = g_strcmp0 (mode, "squash") == 0 ? HEED_RESIZE_STRETCH : HEED_RESIZE_CROP;
    c->crop_fraction = (float) (c->img_size / floor (c->img_size / v));
    c->crop_rounding = HEED_CROP_ROUND_HALF_EVEN; /* torchvision's CenterCrop */
    have_geometry = TRUE;
    note_source (c, g_strcmp0 (mode, "squash") == 0 ? "squash and crop" : "crop", timm);
  }
  if (!have_geometry && L->open_clip) {
    /* open_clip's eval transform: "shortest" the shorter side to the input size, then a
     * centre crop; "squash" the whole frame to it; "longest" the longer side to it, the rest
     * padded with black */
    const char *mode = json_str (o, "resize_mode");
    if (mode && strcmp (mode, "shortest") != 0 && strcmp (mode, "squash") != 0 &&
        strcmp (mode, "longest") != 0)
      heed_log (HEED_LOG_WARNING, "%s: unknown resize_mode \"%s\" in %s; cropping as \"shortest\"",
                L->source, mode, oc);
    c->resize = g_strcmp0 (mode, "squash") == 0    ? HEED_RESIZE_STRETCH
                : g_strcmp0 (mode, "longest") == 0 ? HEED_RESIZE_LETTERBOX
                                                   : HEED_RESIZE_CROP;
    c->crop_fraction = 1.0f;
    c->crop_rounding = HEED_CROP_ROUND_HALF_EVEN; /* torchvision's CenterCrop */
    have_geometry = TRUE;
    note_source (c,
                 c->resize == HEED_RESIZE_STRETCH ? "squash"
                 : c->resize == HEED_RESIZE_CROP  ? "crop"
                                                  : "letterbox",
                 mode ? oc : oc_defaults);
  }
  if (!have_geometry && h) {
    double size = c->img_size, crop = c->img_size;
    gboolean shortest = FALSE, crop_shortest;
    gboolean resize = json_bool (h, "do_resize", TRUE);
    gboolean center = json_bool (h, "do_center_crop", FALSE);
    /* CLIP's and BiT's processors call get_size_dict (size, default_to_square=False) */
    const char *kind = json_str (h, "image_processor_type");
    if (!kind)
      kind = json_str (h, "feature_extractor_type");
    gboolean number_is_shortest =
        kind && (g_str_has_prefix (kind, "CLIP") || g_str_has_prefix (kind, "Bit"));
    if (resize)
      hf_size (member (h, "size"), number_is_shortest, &size, &shortest);
    if (center)
      hf_size (member (h, "crop_size"), FALSE, &crop, &crop_shortest);
    if (size > 0 && crop > 0 && crop <= size) {
      /* the shortest edge to `size` keeps the aspect: a square crop; a fixed size squashes */
      c->resize = shortest ? HEED_RESIZE_CROP : HEED_RESIZE_STRETCH;
      c->crop_fraction = center ? (float) (crop / size) : 1.0f;
      c->crop_rounding = HEED_CROP_ROUND_DOWN; /* transformers' center_crop */
      L->hf_pixels = center ? crop : shortest ? 0 : size;
      have_geometry = TRUE;
      note_source (c, center ? "resize and crop" : "resize", hf);
    }
  }

  /* interpolation: timm names it, transformers numbers it (PIL.Image.Resampling) */
  static const HeedInterpolation by_number[] = {
    HEED_INTERPOLATION_NEAREST, HEED_INTERPOLATION_LANCZOS, HEED_INTERPOLATION_BILINEAR,
    HEED_INTERPOLATION_BICUBIC, HEED_INTERPOLATION_BOX,     HEED_INTERPOLATION_HAMMING,
  };
  const char *interp = meta_string (L, "interpolation");
  const char *where = "__metadata__";
  if (!interp && L->open_clip) { /* open_clip's default: bicubic, as its "random" is at eval */
    interp = json_str (o, "interpolation");
    where = interp ? oc : oc_defaults;
    if (!interp || strcmp (interp, "random") == 0)
      interp = "bicubic";
  }
  if (!interp && json_str (t, "interpolation"))
    interp = json_str (t, "interpolation"), where = timm;
  if (interp) {
    gboolean known = heed_interpolation_from_name (interp, &c->interpolation);
    if (!known)
      heed_log (HEED_LOG_WARNING, "%s: unknown interpolation \"%s\" in %s; using bilinear",
                L->source, interp, where);
    have_interp = known;
  } else if (h && json_number (member (h, "resample"), &v)) {
    if (v >= 0 && v < G_N_ELEMENTS (by_number) && v == floor (v)) {
      c->interpolation = by_number[(guint) v];
      have_interp = TRUE;
    } else {
      heed_log (HEED_LOG_WARNING, "%s: unknown resample %g in %s; using bilinear", L->source, v,
                hf);
    }
    where = hf;
  }
  if (have_interp)
    note_source (c, heed_interpolation_name (c->interpolation), where);

  /* an input size the weights cannot take: say so; the weights decide */
  if (json_number (timm_input_width (t), &v) && v != c->img_size)
    heed_log (HEED_LOG_WARNING, "%s: %s input_size %g disagrees with the weights (%u px); using %u",
              L->source, timm, v, c->img_size, c->img_size);

  if (!have_mean)
    note_source (c, "mean/std", "ImageNet defaults");
  if (!have_geometry)
    note_source (c, "plain resize", "defaults");
  return TRUE;
}

/* Labels from __metadata__ "labels" (a JSON array) or config.json "id2label". */
/* transformers' id2label: in config.json, or beside the vision_config a CLIP or SigLIP
 * classifier's settings come from */
static JsonObject *
id2label_of (const Loader *L)
{
  JsonObject *configs[] = { L->config, L->config_top };
  for (guint i = 0; i < G_N_ELEMENTS (configs); i++) {
    JsonObject *labels = member_object (configs[i], "id2label");
    if (labels)
      return labels;
  }
  return NULL;
}

static gboolean
read_labels (const Loader *L, HeedModelConfig *c, GError **error)
{
  const char *s = meta_string (L, "labels");
  JsonObject *o = id2label_of (L);
  GPtrArray *labels = g_ptr_array_new_with_free_func (g_free);

  if (s) {
    JsonParser *p = parse_array (s);
    JsonArray *a;
    if (!p) {
      g_ptr_array_free (labels, TRUE);
      return model_error (error, L, "__metadata__ labels must be a JSON array of strings");
    }
    a = json_node_get_array (json_parser_get_root (p));
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *n = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
        g_object_unref (p);
        g_ptr_array_free (labels, TRUE);
        return model_error (error, L, "__metadata__ labels must be a JSON array of strings");
      }
      g_ptr_array_add (labels, g_strdup (json_node_get_string (n)));
    }
    g_object_unref (p);
  } else if (o) {
    guint n = json_object_get_size (o);
    for (guint i = 0; i < n; i++) {
      char key[16];
      g_snprintf (key, sizeof key, "%u", i);
      JsonNode *v = json_object_get_member (o, key);
      if (!v || !JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING)
        break;
      g_ptr_array_add (labels, g_strdup (json_node_get_string (v)));
    }
  }
  if (labels->len > 0 && labels->len != c->num_classes) {
    heed_log (HEED_LOG_WARNING, "%s: %u labels for %u classes; ignoring the labels", L->source,
              labels->len, c->num_classes);
    g_ptr_array_set_size (labels, 0);
  }
  if (labels->len > 0) {
    g_ptr_array_set_free_func (labels, NULL);
    g_ptr_array_add (labels, NULL);
    c->labels = (char **) g_ptr_array_free (labels, FALSE);
  } else {
    g_ptr_array_free (labels, TRUE);
  }
  return TRUE;
}

static gboolean
is_square (guint64 n)
{
  guint64 r = (guint64) sqrt ((double) n);
  while (r * r > n)
    r--;
  while ((r + 1) * (r + 1) <= n)
    r++;
  return n > 0 && r * r == n;
}

/* The heads of timm's ViTs whose heads are not dim / 64 (timm's vision_transformer.py and
 * deit.py), by the architecture config.json names: timm's config.json names it but not the
 * heads, and the weights cannot tell (qkv is [3 dim, dim] whatever the split). 0: not one. */
static guint
timm_architecture_heads (const char *arch)
{
  static const struct {
    const char *name;
    gboolean prefix; /* every architecture whose name begins so */
    guint heads;
  } table[] = {
    { "test_vit", FALSE, 2 },                  /* 64 wide: timm's small test models on the hub */
    { "test_vit2", FALSE, 2 },                 /* 64 */
    { "test_vit3", FALSE, 3 },                 /* 96 */
    { "test_vit4", FALSE, 3 },                 /* 96 */
    { "vit_base_patch16_gap_224", FALSE, 16 }, /* 768 */
    { "vit_huge_", TRUE, 16 },                 /* 1280 */
    { "deit3_huge_", TRUE, 16 },               /* 1280 */
    { "vit_giant_patch14_224", FALSE, 16 },    /* 1408 (not the DINOv2 giants: 1536, 24) */
    { "vit_giant_patch14_clip_", TRUE, 16 },   /* 1408 */
    { "vit_giant_patch16_gap_", TRUE, 16 },    /* 1408 */
    { "vit_gigantic_", TRUE, 16 },             /* 1664 */
    { "vit_giantopt_", TRUE, 16 },             /* 1536 */
    { "vit_so400m_", TRUE, 16 },               /* 1152 */
    { "beit3_giant_", TRUE, 16 },              /* 1408 */
    { "eva_giant_patch14_", TRUE, 16 },        /* 1408 (EVA-01) */
    { "vit_pe_core_gigantic_", TRUE, 16 },     /* 1536 (the Perception Encoder's) */
    { "aimv2_large_", TRUE, 8 },               /* 1024 (AIMv2's heads are 128 wide) */
    { "aimv2_huge_", TRUE, 12 },               /* 1536 */
    { "aimv2_1b_", TRUE, 16 },                 /* 2048 */
    { "aimv2_3b_", TRUE, 24 },                 /* 3072 */
  };
  for (guint i = 0; arch && i < G_N_ELEMENTS (table); i++)
    if (table[i].prefix ? g_str_has_prefix (arch, table[i].name)
                        : strcmp (arch, table[i].name) == 0)
      return table[i].heads;
  return 0;
}

/* BEiT's relative position bias: block `layer`'s tensor, or where one is shared by every block
 * (timm's rel_pos_bias., transformers' encoder.relative_position_bias.) that one; `what` is
 * "relative_position_bias_table" or "relative_position_index" */
static void
rel_bias_name (const Loader *L, guint layer, const char *what, char *out, gsize size)
{
  if (!L->hf && L->rel_shared)
    g_snprintf (out, size, "rel_pos_bias.%s", what);
  else if (!L->hf)
    g_snprintf (out, size, "blocks.%u.attn.%s", layer, what);
  else if (L->rel_shared)
    g_snprintf (out, size, "%sencoder.relative_position_bias.%s", L->prefix, what);
  else
    g_snprintf (out, size, "%sencoder.layer.%u.attention.attention.relative_position_bias.%s",
                L->prefix, layer, what);
}

/* The table's row for each pair of tokens (query i, key j) of a W x W grid after the class
 * token, as BEiT builds it: patch pairs by their offset (dy, dx), (2W - 1)^2 rows, then one
 * row for the class token's query to a patch, one for a patch's query to the class token and
 * one for the class token to itself. */
guint *
heed_beit_position_index (guint W)
{
  guint T = W * W + 1, side = 2 * W - 1, pairs = side * side;
  guint *index = g_new (guint, (gsize) T * T);
  for (guint i = 0; i < T; i++)
    for (guint j = 0; j < T; j++) {
      guint *o = &index[(gsize) i * T + j];
      if (i == 0)
        *o = j == 0 ? pairs + 2 : pairs;
      else if (j == 0)
        *o = pairs + 1;
      else
        *o = ((i - 1) / W + W - 1 - (j - 1) / W) * side + (i - 1) % W + W - 1 - (j - 1) % W;
    }
  return index;
}

/* Whether a relative_position_index a checkpoint stores (I64 [n][n]) is the lookup index [n][n]
 * heed builds */
static gboolean
stored_index_is (const TensorEntry *e, const guint *index, guint n)
{
  gboolean same =
      strcmp (e->dtype_name, "I64") == 0 && e->ndim == 2 && e->shape[0] == n && e->shape[1] == n;
  for (gsize i = 0; same && i < (gsize) n * n; i++) {
    gint64 v;
    memcpy (&v, e->bytes + 8 * i, 8);
    same = GINT64_FROM_LE (v) == index[i];
  }
  return same;
}

float *
heed_beit_bias (const float *table, guint W, guint heads)
{
  guint T = W * W + 1, *index = heed_beit_position_index (W);
  float *bias = g_new (float, (gsize) heads *T *T);
  heed_relative_bias_lookup (table, index, (gsize) T * T, heads, bias);
  g_free (index);
  return bias;
}

/* Block `layer`'s bias on its attention scores, [heads][T][T], looked up from its table. A
 * relative_position_index the checkpoint carries (older timm and transformers save it) must
 * be the lookup heed builds. transformers' tables are kept (HeedModel's rel_tables, at
 * `keep`): its BEiT makes another input size's biases from them. */
static float *
read_rel_bias (const Loader *L, const HeedModelConfig *c, guint layer, float **keep, GError **error)
{
  guint W = c->grid, T = c->tokens, H = c->num_heads;
  guint64 shape[2] = { (guint64) (2 * W - 1) * (2 * W - 1) + 3, H };
  char name[192];
  rel_bias_name (L, layer, "relative_position_bias_table", name, sizeof name);
  float *table = take (L, name, 2, shape, error);
  if (!table)
    return NULL;
  guint *index = heed_beit_position_index (W);
  rel_bias_name (L, layer, "relative_position_index", name, sizeof name);
  TensorEntry *e = find (L, name);
  gboolean same = !e || stored_index_is (e, index, T);
  if (e)
    e->taken = TRUE;
  float *bias = NULL;
  if (!same)
    model_error (error, L,
                 "tensor '%s' is not BEiT's lookup of its table for %u x %u patches and a class "
                 "token",
                 name, W, W);
  else
    bias = heed_beit_bias (table, W, H);
  if (bias && keep)
    *keep = table, table = NULL;
  g_free (table);
  g_free (index);
  return bias;
}

/* Whether timm's architecture name begins with one of the n names (NULL: none does) */
static gboolean
arch_in (const char *arch, const char *const *names, guint n)
{
  for (guint i = 0; arch && i < n; i++)
    if (g_str_has_prefix (arch, names[i]))
      return TRUE;
  return FALSE;
}

/* `name` with its leading `from` turned into `to`, or NULL where it does not begin so */
static char *
swap_prefix (const char *name, const char *from, const char *to)
{
  return g_str_has_prefix (name, from) ? g_strconcat (to, name + strlen (from), NULL) : NULL;
}

/* A new name for a tensor (timm's), or NULL where it keeps its own */
typedef char *(*RenameFunc) (const char *name, gconstpointer data);

/* Every tensor renamed by `rename`, each keeping its own name for the messages; two tensors
 * that would both be read by one name are refused (which would heed take?) */
static gboolean
rename_tensors (Loader *L, RenameFunc rename, gconstpointer data, GError **error)
{
  GHashTable *renamed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  GHashTableIter it;
  gpointer key, value;
  char *clash = NULL; /* the message for the first two tensors found under one name */
  g_hash_table_iter_init (&it, L->tensors);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    char *timm = rename (key, data), *name = timm ? timm : g_strdup (key);
    TensorEntry *e = value, *other = g_hash_table_lookup (renamed, name);
    if (timm)
      e->file_name = g_strdup (key);
    g_hash_table_iter_steal (&it);
    if (other) {
      const char *a = other->file_name ? other->file_name : name;
      if (!clash)
        clash = g_strdup_printf ("tensors '%s' and '%s' would both be read as '%s'",
                                 strcmp (a, key) < 0 ? a : (const char *) key,
                                 strcmp (a, key) < 0 ? (const char *) key : a, name);
      entry_free (e);
      g_free (name);
    } else {
      g_hash_table_insert (renamed, name, e);
    }
    g_free (key);
  }
  g_hash_table_destroy (L->tensors);
  L->tensors = renamed;
  if (clash)
    model_error (error, L, "%s: refused rather than take one of them", clash);
  g_free (clash);
  return clash == NULL;
}

/* `name` through the first of n (from, to) prefix pairs it begins with, or NULL */
static char *
swap_first_prefix (const char *name, const char *const (*pairs)[2], guint n)
{
  char *out = NULL;
  for (guint i = 0; i < n && !out; i++)
    out = swap_prefix (name, pairs[i][0], pairs[i][1]);
  return out;
}

/* `name` as timm's blocks.N.<inside> where it is block N's under `blocks` ("layer." for
 * "layer.N."), its part inside the block through the pairs; NULL where it is no block's */
static char *
block_name (const char *name, const char *blocks, const char *const (*pairs)[2], guint n)
{
  gsize len = strlen (blocks);
  guint layer, used = 0;
  if (strncmp (name, blocks, len) != 0 || sscanf (name + len, "%u.%n", &layer, &used) != 1 || !used)
    return NULL;
  const char *rest = name + len + used;
  char *inside = swap_first_prefix (rest, pairs, n);
  char *out = g_strdup_printf ("blocks.%u.%s", layer, inside ? inside : rest);
  g_free (inside);
  return out;
}

/* `name` past `prefix` in timm's names: through the first of the `outside` pairs it begins
 * with, or as block N's under `blocks` through the `inside` ones; NULL where it is not under
 * `prefix` or is neither */
static char *
timm_name_under (const char *name, const char *prefix, const char *const (*outside)[2],
                 guint n_outside, const char *blocks, const char *const (*inside)[2],
                 guint n_inside)
{
  if (!g_str_has_prefix (name, prefix))
    return NULL;
  name += strlen (prefix);
  char *timm = swap_first_prefix (name, outside, n_outside);
  return timm ? timm : block_name (name, blocks, inside, n_inside);
}
#define TIMM_NAME_UNDER(name, prefix, outside, blocks, inside)                                     \
  timm_name_under (name, prefix, outside, G_N_ELEMENTS (outside), blocks, inside,                  \
                   G_N_ELEMENTS (inside))

/* Whether any tensor's name begins with prefix */
static gboolean
has_tensor_prefix (const Loader *L, const char *prefix)
{
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, L->tensors);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (g_str_has_prefix (key, prefix))
      return TRUE;
  return FALSE;
}

/* A state dict saved from a wrapped model: DistributedDataParallel's and DataParallel's
 * "module.", torch.compile's "_orig_mod." (timm's clean_state_dict strips both from each name) */
static char *
unwrapped_name (const char *name, gconstpointer data)
{
  (void) data;
  const char *at = name;
  while (g_str_has_prefix (at, "module.") || g_str_has_prefix (at, "_orig_mod."))
    at += g_str_has_prefix (at, "module.") ? strlen ("module.") : strlen ("_orig_mod.");
  return at != name ? g_strdup (at) : NULL;
}

static char *
without_model_prefix (const char *name, gconstpointer data)
{
  (void) data;
  return swap_prefix (name, "model.", "");
}

static char *
without_backbone_prefix (const char *name, gconstpointer data)
{
  (void) data;
  return swap_prefix (name, "backbone.", "");
}

/* DINO's, iBOT's and DINOv2's training checkpoints: timm's ViT names under "backbone." (their
 * multi-crop wrapper), beside a projection head under "head." that is no classifier (its
 * head.mlp.*, head.last_layer.* are left unread, as DINO's own loader drops them) */
static gboolean
is_multicrop_wrapper (const Loader *L)
{
  if (!find (L, "backbone.patch_embed.proj.weight") || find (L, "patch_embed.proj.weight"))
    return FALSE;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, L->tensors);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_str_has_prefix (key, "backbone.") && !g_str_has_prefix (key, "head."))
      return FALSE;
  return TRUE;
}

/* The model inside a wrapper's names: "module." and "_orig_mod." wherever they lead a name, then
 * a "model." that leads every name (a Lightning module holding the model as self.model), or
 * DINO's "backbone." beside its projection head */
static gboolean
strip_wrapper_prefixes (Loader *L, GError **error)
{
  if ((has_tensor_prefix (L, "module.") || has_tensor_prefix (L, "_orig_mod.")) &&
      !rename_tensors (L, unwrapped_name, NULL, error))
    return FALSE;
  gboolean all_model = g_hash_table_size (L->tensors) > 0;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, L->tensors);
  while (all_model && g_hash_table_iter_next (&it, &key, NULL))
    all_model = g_str_has_prefix (key, "model.");
  if (all_model && !rename_tensors (L, without_model_prefix, NULL, error))
    return FALSE;
  return !is_multicrop_wrapper (L) || rename_tensors (L, without_backbone_prefix, NULL, error);
}

/* Where a PyTorch training checkpoint came without a config.json, its model name (timm's
 * train.py "arch": a timm architecture, or hf-hub:timm/NAME.TAG) says what timm's config.json
 * would: the architecture. A class name ("visiontransformer", timm's without args) says nothing. */
static void
read_checkpoint_arch (Loader *L)
{
  if (!L->checkpoint_arch || (L->config && member (L->config, "architecture")))
    return;
  const char *name = L->checkpoint_arch;
  if (g_str_has_prefix (name, "hf-hub:") || g_str_has_prefix (name, "hf_hub:"))
    name += strlen ("hf-hub:");
  if (g_str_has_prefix (name, "timm/"))
    name += strlen ("timm/");
  char *arch = g_strndup (name, strcspn (name, "."));
  if (strchr (arch, '_') && !strchr (arch, '/')) {
    if (!L->config)
      L->config = L->made_config = json_object_new ();
    json_object_set_string_member (L->config, "architecture", arch);
  }
  g_free (arch);
}

static char *
hf_dinov3_timm_name (const char *name, gconstpointer data)
{
  const gboolean gated = *(const gboolean *) data;
  static const char *const outside[][2] = {
    { "embeddings.cls_token", "cls_token" },
    { "embeddings.register_tokens", "reg_token" },
    { "embeddings.mask_token", "mask_token" },
    { "embeddings.patch_embeddings.", "patch_embed.proj." },
  };
  const char *const inside[][2] = {
    { "attention.o_proj.", "attn.proj." }, { "attention.", "attn." },
    { "layer_scale1.lambda1", "gamma_1" }, { "layer_scale2.lambda1", "gamma_2" },
    { "mlp.gate_proj.", "mlp.fc1_g." },    { "mlp.up_proj.", gated ? "mlp.fc1_x." : "mlp.fc1." },
    { "mlp.down_proj.", "mlp.fc2." },
  };
  return TIMM_NAME_UNDER (name, "", outside, "layer.", inside);
}

/* transformers' DINOv3ViTModel (facebook/dinov3-*) is timm's Eva (vit_*_dinov3) under other
 * names: its tensors are read by timm's, each keeping its own for the messages. */
static gboolean
rename_hf_dinov3 (Loader *L, GError **error)
{
  TensorEntry *patch = find (L, "embeddings.patch_embeddings.weight");
  if (!patch || patch->ndim != 4 || !find (L, "layer.0.attention.q_proj.weight"))
    return TRUE;
  gboolean gated = find (L, "layer.0.mlp.gate_proj.weight") != NULL;
  L->hf_dinov3 = TRUE;
  L->renamed_from = "transformers' DINOv3", L->renamed_under = "";
  return rename_tensors (L, hf_dinov3_timm_name, &gated, error);
}

/* OpenCLIP's own image tower (open_clip's VisionTransformer, OpenAI's CLIP layout) in timm's
 * names; ln_post is the final norm, or fc_norm where it norms the mean patch token
 * (pool_type "avg" with final_ln_after_pool). A tensor of a variant heed does not run (ln_attn,
 * the MLP's ln, the attention's logit_scale) keeps its part inside the block, and
 * check_blocks_read refuses it. */
static char *
open_clip_timm_name (const char *name, gconstpointer data)
{
  const gboolean fc_norm = *(const gboolean *) data;
  const char *const outside[][2] = {
    { "visual.conv1.", "patch_embed.proj." },
    { "visual.ln_pre.", "norm_pre." },
    { "visual.ln_post.", fc_norm ? "fc_norm." : "norm." },
  };
  static const char *const inside[][2] = {
    { "ln_1.", "norm1." },
    { "ln_2.", "norm2." },
    { "attn.in_proj_weight", "attn.qkv.weight" },
    { "attn.in_proj_bias", "attn.qkv.bias" },
    { "attn.out_proj.", "attn.proj." },
    { "mlp.c_fc.", "mlp.fc1." },
    { "mlp.c_proj.", "mlp.fc2." },
    { "ls_1.gamma", "ls1.gamma" },
    { "ls_2.gamma", "ls2.gamma" },
  };
  if (strcmp (name, "visual.class_embedding") == 0)
    return g_strdup ("cls_token");
  if (strcmp (name, "visual.positional_embedding") == 0)
    return g_strdup ("pos_embed");
  if (strcmp (name, "visual.proj") == 0)
    return g_strdup ("head.weight");
  return TIMM_NAME_UNDER (name, "", outside, "visual.transformer.resblocks.", inside);
}

/* OpenCLIP's timm image towers (open_clip's TimmModel: SigLIP, PE, ...): the timm model under
 * visual.trunk., a linear projection after it as visual.head.proj */
static char *
open_clip_trunk_timm_name (const char *name, gconstpointer data)
{
  static const char *const pairs[][2] = {
    { "visual.trunk.", "" },
    { "visual.head.proj.", "head." },
  };
  (void) data;
  return swap_first_prefix (name, pairs, G_N_ELEMENTS (pairs));
}

/* A matrix's rows and columns swapped, into bytes of its own: OpenCLIP's proj is [width,
 * embed] (the pooled token times proj), timm's head.weight [embed, width] */
static void
transpose_entry (TensorEntry *e)
{
  guint64 size;
  dtype_of (e->dtype_name, &size);
  if (e->ndim != 2 || !size)
    return; /* take() refuses its shape or dtype by name */
  guint64 rows = e->shape[0], cols = e->shape[1];
  guint8 *t = g_malloc (MAX (e->numel * size, 1));
  for (guint64 r = 0; r < rows; r++)
    for (guint64 c = 0; c < cols; c++)
      memcpy (t + (c * rows + r) * size, e->bytes + (r * cols + c) * size, size);
  g_free (e->owned);
  e->bytes = e->owned = t;
  e->shape[0] = cols, e->shape[1] = rows;
}

/* A tensor of OpenCLIP's as timm keeps it, [1, ..., its shape]: class_embedding [D] as
 * cls_token [1, 1, D], positional_embedding [T, D] as pos_embed [1, T, D] */
static void
lead_with_ones (TensorEntry *e, guint ndim)
{
  guint lead = e && ndim > e->ndim ? ndim - e->ndim : 0;
  if (!lead)
    return; /* a missing one is named where it is read */
  memmove (e->shape + lead, e->shape, e->ndim * sizeof e->shape[0]);
  for (guint i = 0; i < lead; i++)
    e->shape[i] = 1;
  e->ndim = ndim;
}

/* open_clip_config.json's model_cfg.vision_cfg as timm's config.json would say it (which
 * read_config reads): model_args num_heads (width / head_width) and act_layer (QuickGELU where
 * model_cfg.quick_gelu says, GELU's tanh approximation where act_kwargs does), layer_norm_eps
 * (norm_kwargs.eps, else LayerNorm's 1e-5), global_pool, image_size; a timm tower's
 * architecture and pooling. NULL, with the error, for a tower heed does not run. */
static JsonObject *
open_clip_settings (const Loader *L, gboolean trunk, gboolean *fc_norm, GError **error)
{
  JsonObject *model_cfg = member_object (L->config, "model_cfg");
  JsonObject *vision = member_object (model_cfg, "vision_cfg");
  JsonObject *s = json_object_new ();
  guint64 v;
  double eps = 1e-5;
  *fc_norm = FALSE;
  if (json_uint (member (vision, "image_size"), &v))
    json_object_set_int_member (s, "image_size", (gint64) v);
  if (trunk) {
    const char *arch = json_str (vision, "timm_model_name");
    /* TimmModel resets the trunk's pooling to timm_pool, "avg" where vision_cfg says none;
     * without a vision_cfg the tensors tell */
    const char *pool = !vision                        ? NULL
                       : member (vision, "timm_pool") ? json_str (vision, "timm_pool")
                                                      : "avg";
    if (arch)
      json_object_set_string_member (s, "architecture", arch);
    if (pool && (strcmp (pool, "abs_attn") == 0 || strcmp (pool, "rot_attn") == 0)) {
      model_error (error, L,
                   "OpenCLIP's timm_pool \"%s\" (a pooling of open_clip's own after the timm "
                   "model): heed runs timm's token, avg and map pooling",
                   pool);
      json_object_unref (s);
      return NULL;
    }
    if (pool && *pool)
      json_object_set_string_member (s, "global_pool", pool);
    if (!arch)
      heed_log (HEED_LOG_WARNING,
                "%s: an OpenCLIP timm tower without the timm_model_name of its "
                "open_clip_config.json: run as timm's defaults for the layout its tensors show",
                L->source);
    return s;
  }
  const char *pool = json_str (vision, "pool_type");
  /* attentional_pool: true, or "parallel" or "cascade" */
  const char *attn_pool_kind = json_str (vision, "attentional_pool");
  gboolean attn_pool =
      json_bool (vision, "attentional_pool", FALSE) || (attn_pool_kind && *attn_pool_kind);
  if ((pool && strcmp (pool, "tok") != 0 && strcmp (pool, "avg") != 0) || attn_pool) {
    model_error (error, L,
                 "OpenCLIP's vision_cfg pools by %s: heed runs the class token (pool_type "
                 "\"tok\") and the mean patch token (\"avg\")",
                 pool && strcmp (pool, "tok") != 0 && strcmp (pool, "avg") != 0
                     ? pool
                     : "attentional_pool (CoCa's attention pooler)");
    json_object_unref (s);
    return NULL;
  }
  gboolean avg = g_strcmp0 (pool, "avg") == 0;
  *fc_norm = avg && json_bool (vision, "final_ln_after_pool", FALSE);
  json_object_set_string_member (s, "global_pool", avg ? "avg" : "token");
  JsonObject *margs = json_object_new ();
  guint64 width, head_width = 64;
  json_uint (member (vision, "head_width"), &head_width);
  if (json_uint (member (vision, "width"), &width) && head_width && width % head_width == 0 &&
      width / head_width > 0)
    json_object_set_int_member (margs, "num_heads", (gint64) (width / head_width));
  const char *approximate = json_str (member_object (vision, "act_kwargs"), "approximate");
  json_object_set_string_member (margs, "act_layer",
                                 json_bool (model_cfg, "quick_gelu", FALSE) ? "quick_gelu"
                                 : g_strcmp0 (approximate, "tanh") == 0     ? "gelu_tanh"
                                                                            : "gelu");
  json_object_set_object_member (s, "model_args", margs);
  json_number (member (member_object (vision, "norm_kwargs"), "eps"), &eps);
  json_object_set_double_member (s, "layer_norm_eps", eps);
  if (!model_cfg)
    heed_log (HEED_LOG_WARNING,
              "%s: an OpenCLIP checkpoint without its open_clip_config.json: run with GELU, "
              "64-wide heads and OpenAI's mean/std, open_clip's defaults (OpenAI's own weights "
              "need QuickGELU, which only the config says)",
              L->source);
  return s;
}

/* OpenCLIP's checkpoints (open_clip_model.safetensors, open_clip_pytorch_model.bin, their
 * settings in open_clip_config.json): the image tower under visual., read by timm's names
 * (the text tower beside it unread). Its own VisionTransformer is timm's CLIP layout
 * (norm_pre, no patch bias, the projection as the head); a timm model under visual.trunk. is
 * timm's, its architecture named by vision_cfg.timm_model_name. */
static gboolean
read_open_clip (Loader *L, GError **error)
{
  gboolean native = find (L, "visual.conv1.weight") && find (L, "visual.class_embedding");
  gboolean trunk = !native && has_tensor_prefix (L, "visual.trunk.");
  if (find (L, "visual.attnpool.c_proj.weight") || find (L, "visual.layer1.0.conv1.weight"))
    return model_error (error, L,
                        "an OpenCLIP ResNet image tower (open_clip's ModifiedResNet), not a ViT");
  if (!native && !trunk)
    return TRUE;
  gboolean coca = has_tensor_prefix (L, "visual.attn_pool.");
  if (coca || has_tensor_prefix (L, "visual.head.mlp."))
    return model_error (error, L, "an OpenCLIP image tower with %s, which heed does not run",
                        coca ? "CoCa's attention pooler (visual.attn_pool)"
                             : "an MLP projection (timm_proj \"mlp\")");
  gboolean fc_norm = FALSE;
  /* a timm config.json beside open_clip's weights says what it says; open_clip's own
   * config (or none) is made into one */
  if (!L->config || member_object (L->config, "model_cfg")) {
    JsonObject *settings = open_clip_settings (L, trunk, &fc_norm, error);
    if (!settings)
      return FALSE;
    L->open_clip_preprocess = member_object (L->config, "preprocess_cfg");
    L->config = L->made_config = settings;
    L->config_top = NULL;
  }
  L->open_clip = TRUE;
  L->renamed_from = "OpenCLIP's", L->renamed_under = trunk ? "visual.trunk." : "visual.";
  if (!rename_tensors (L, trunk ? open_clip_trunk_timm_name : open_clip_timm_name, &fc_norm, error))
    return FALSE;
  if (native) {
    lead_with_ones (find (L, "cls_token"), 3);
    lead_with_ones (find (L, "pos_embed"), 3);
    if (find (L, "head.weight"))
      transpose_entry (find (L, "head.weight"));
  }
  return TRUE;
}

/* The model's settings in a part of config.json (`key`: CLIPModel's and the like's
 * vision_config, a VisionEncoderDecoderModel's encoder, a depth model's backbone_config) where
 * it has that part: L->config then points at it, and config.json itself is kept as
 * L->config_top (where a classifier's id2label is). A part that is null, or not there, leaves
 * the config class's defaults, as transformers reads it; one that is anything but an object
 * is refused, never read past. */
static gboolean
settings_in_part (Loader *L, const char *key, GError **error)
{
  JsonNode *n = member (L->config, key);
  if (n && !JSON_NODE_HOLDS_OBJECT (n) && !JSON_NODE_HOLDS_NULL (n))
    return model_error (error, L, "config.json's %s is not a JSON object", key);
  if (n && JSON_NODE_HOLDS_OBJECT (n)) {
    L->config_top = L->config;
    L->config = json_node_get_object (n);
  }
  return TRUE;
}

/* Apple's own AIMv2 names (apple/aimv2-*'s first files, timm's _convert_aimv2 reads them) as
 * timm's: the SwiGLU's fc1 is the gate, fc3 the value */
static char *
aimv2_apple_timm_name (const char *name, gconstpointer data)
{
  static const char *const outside[][2] = {
    { "preprocessor.patchifier.proj.", "patch_embed.proj." },
    { "preprocessor.patchifier.norm.", "patch_embed.norm." },
    { "preprocessor.pos_embed", "pos_embed" },
    { "trunk.post_trunk_norm.", "norm." },
  };
  static const char *const inside[][2] = {
    { "norm_1.", "norm1." },
    { "norm_2.", "norm2." },
    { "mlp.fc1.", "mlp.fc1_g." },
    { "mlp.fc3.", "mlp.fc1_x." },
  };
  (void) data;
  return TIMM_NAME_UNDER (name, "", outside, "trunk.blocks.", inside);
}

/* transformers' Aimv2VisionModel names (under `prefix`: Aimv2Model's vision_model.) as timm's:
 * LlamaMLP's gate_proj, up_proj and down_proj are the SwiGLU's gate, value and fc2 */
static char *
aimv2_hf_timm_name (const char *name, gconstpointer data)
{
  static const char *const outside[][2] = {
    { "embeddings.patch_embed.", "patch_embed.proj." },
    { "embeddings.rms_norm.", "patch_embed.norm." },
    { "embeddings.position_embedding.weight", "pos_embed" },
    { "rms_norm.", "norm." },
  };
  static const char *const inside[][2] = {
    { "rms_norm1.", "norm1." },
    { "rms_norm2.", "norm2." },
    { "attention.out_proj.", "attn.proj." },
    { "attention.", "attn." },
    { "ffn.gate_proj.", "mlp.fc1_g." },
    { "ffn.up_proj.", "mlp.fc1_x." },
    { "ffn.down_proj.", "mlp.fc2." },
  };
  return TIMM_NAME_UNDER (name, (const char *) data, outside, "encoder.layers.", inside);
}

/* AIMv2's image tower in Apple's own names or transformers' (Aimv2VisionModel; Aimv2Model's
 * vision_model., its text tower unread) is timm's aimv2_* layout: renamed to timm's names, the
 * settings from config.json (its vision_config in Aimv2Model's). RMSNorm and no biases, which
 * read_config takes from L->aimv2. */
static gboolean
rename_aimv2 (Loader *L, GError **error)
{
  gboolean apple = find (L, "preprocessor.patchifier.proj.weight") != NULL;
  const char *prefix = find (L, "vision_model.embeddings.patch_embed.weight") ? "vision_model."
                       : find (L, "embeddings.patch_embed.weight")            ? ""
                                                                              : NULL;
  if (!apple && !prefix)
    return TRUE;
  char *head = g_strconcat (apple ? "" : prefix, "head.", NULL);
  gboolean has_head = has_tensor_prefix (L, head);
  g_free (head);
  if (has_head)
    return model_error (error, L,
                        "an AIMv2 tower with its attention-pooling head (use_head, the LiT "
                        "models'), which heed does not run");
  if (!settings_in_part (L, "vision_config", error))
    return FALSE;
  L->aimv2 = TRUE;
  L->renamed_from = apple ? "Apple's AIMv2" : "transformers' AIMv2";
  L->renamed_under = apple ? "" : prefix;
  if (!rename_tensors (L, apple ? aimv2_apple_timm_name : aimv2_hf_timm_name, prefix, error))
    return FALSE;
  if (!find (L, "pos_embed"))
    return model_error (error, L,
                        "an AIMv2 tower without stored positions (the native-resolution models "
                        "compute sine-cosine ones for each image size), which heed does not run");
  lead_with_ones (find (L, "pos_embed"), 3); /* transformers' nn.Embedding: [patches, D] */
  return TRUE;
}

/* The image towers of transformers' BLIP and of InternViT's own code (under `prefix`: the
 * vision_model. of BLIP's, BLIP-2's, InstructBLIP's and InternVL's chat models) as timm's
 * names: BLIP's fused self_attn.qkv (BLIP-2's without a bias, its query's and value's beside it
 * as q_bias and v_bias, as timm's BEiT and EVA have them), InternViT's attn.qkv with LayerScale
 * as bare ls1/ls2 vectors */
static char *
vision_tower_timm_name (const char *name, gconstpointer data)
{
  static const char *const outside[][2] = {
    { "embeddings.class_embedding", "cls_token" },
    { "embeddings.patch_embedding.", "patch_embed.proj." },
    { "embeddings.position_embedding", "pos_embed" },
    { "post_layernorm.", "norm." },
  };
  static const char *const inside[][2] = {
    { "layer_norm1.", "norm1." },
    { "layer_norm2.", "norm2." },
    { "self_attn.projection.", "attn.proj." },
    { "self_attn.", "attn." },
    { "ls1", "ls1.gamma" },
    { "ls2", "ls2.gamma" },
  };
  return TIMM_NAME_UNDER (name, (const char *) data, outside, "encoder.layers.", inside);
}

/* A copy of the settings L->config holds (or an empty object where there is no config) that
 * L->config then points at, owned as made_config: settings a config class leaves out of the
 * hub's files are written into it */
static JsonObject *
own_settings (Loader *L)
{
  JsonObject *settings = json_object_new (), *given = L->config;
  if (given) {
    GList *keys = json_object_get_members (given);
    for (GList *k = keys; k; k = k->next)
      json_object_set_member (settings, k->data,
                              json_node_copy (json_object_get_member (given, k->data)));
    g_list_free (keys);
  }
  if (L->made_config) /* a training checkpoint's arch, copied in above when it was the config */
    json_object_unref (L->made_config);
  L->config = L->made_config = settings;
  return settings;
}

/* BLIP's image tower (transformers' BlipVisionModel, or the vision_model. of
 * BlipForConditionalGeneration, BlipForQuestionAnswering, BlipForImageTextRetrieval, BLIP-2's
 * and InstructBLIP's models, whose text towers, Q-Formers and language models are unread) and
 * InternViT's (OpenGVLab's InternVisionModel, InternVL's chat models' vision_model.) are timm
 * ViTs by other names: renamed to timm's, the settings from vision_config (or config.json),
 * copied with what the config classes default to and the hub's files leave out: BLIP's 12 heads
 * and eps 1e-5, BLIP-2's and InstructBLIP's 16 heads (their 1408-wide EVA tower's: not width /
 * 64) and eps 1e-6; InternViT's 25 heads (where there is a config: InternViT-6B's; width / 64
 * where there is none) and eps 1e-6, and no final norm (the class token as the last block
 * leaves it, as timm's port runs it with final_norm=False). */
static gboolean
rename_vision_tower (Loader *L, GError **error)
{
  static const char *const prefixes[] = { "vision_model.", "" };
  const char *prefix = NULL;
  gboolean intern = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (prefixes) && !prefix; i++) {
    char *cls = g_strconcat (prefixes[i], "embeddings.class_embedding", NULL);
    char *blip = g_strconcat (prefixes[i], "encoder.layers.0.self_attn.qkv.weight", NULL);
    char *iv = g_strconcat (prefixes[i], "encoder.layers.0.attn.qkv.weight", NULL);
    if (find (L, cls) && (find (L, blip) || find (L, iv))) {
      prefix = prefixes[i];
      intern = find (L, iv) != NULL;
    }
    g_free (cls), g_free (blip), g_free (iv);
  }
  if (!prefix)
    return TRUE;
  const char *type = json_str (L->config, "model_type");
  if (!settings_in_part (L, "vision_config", error))
    return FALSE;
  JsonObject *given = L->config;
  if (!type)
    type = json_str (given, "model_type");
  guint heads;
  double eps = 1e-6;
  if (intern) {
    /* InternVisionConfig's defaults are InternViT-6B's, RMSNorm and a norm of the queries and
     * keys, which heed does not run; with no config at all, the tensors say which it is */
    char *q_norm = g_strconcat (prefix, "encoder.layers.0.attn.q_norm.weight", NULL);
    char *norm_bias = g_strconcat (prefix, "encoder.layers.0.norm1.bias", NULL);
    const char *norm = json_str (given, "norm_type");
    gboolean qk_norm =
        given ? json_bool (given, "qk_normalization", TRUE) : find (L, q_norm) != NULL;
    gboolean rms =
        given ? g_strcmp0 (norm ? norm : "rms_norm", "layer_norm") != 0 : !find (L, norm_bias);
    g_free (q_norm), g_free (norm_bias);
    if (qk_norm || rms)
      return model_error (error, L,
                          "an InternViT tower with %s (InternViT-6B's layout), which heed does "
                          "not run: it runs InternViT-300M's (norm_type \"layer_norm\", "
                          "qk_normalization false)",
                          qk_norm ? "a norm of its queries and keys (qk_normalization)"
                                  : "RMSNorm (norm_type)");
    heads = given ? 25 : 0; /* with no config, width / 64 (InternViT-300M's 16 of 64) */
  } else {
    /* BLIP-2's and InstructBLIP's (blip-2, instructblip, instructblipvideo and their
     * *_vision_model), or by the tensors where no config names it: their query and value
     * biases */
    char *q_bias = g_strconcat (prefix, "encoder.layers.0.self_attn.q_bias", NULL);
    gboolean blip2 = type ? strncmp (type, "blip-2", 6) == 0 || strncmp (type, "blip_2", 6) == 0 ||
                                g_str_has_prefix (type, "instructblip")
                          : find (L, q_bias) != NULL;
    g_free (q_bias);
    heads = blip2 ? 16 : 12;
    eps = blip2 ? 1e-6 : 1e-5;
  }
  JsonObject *settings = own_settings (L);
  if (heads && !member (settings, "num_attention_heads"))
    json_object_set_int_member (settings, "num_attention_heads", heads);
  if (!member (settings, "layer_norm_eps"))
    json_object_set_double_member (settings, "layer_norm_eps", eps);
  if (intern) {
    JsonObject *margs = json_object_new ();
    json_object_set_boolean_member (margs, "final_norm", FALSE);
    json_object_set_object_member (settings, "model_args", margs);
  }
  L->renamed_from = intern ? "InternViT's" : "transformers' BLIP", L->renamed_under = prefix;
  return rename_tensors (L, vision_tower_timm_name, prefix, error);
}

/* transformers' InternVLVisionModel names (under `prefix`: InternVL's -hf models'
 * vision_tower.) as timm's: BEiT's embeddings and layer names, the query's, key's and value's
 * projections apart (q_proj, k_proj, v_proj, as timm's EVA has them), LayerScale as lambda_1 and
 * lambda_2 */
static char *
hf_internvl_timm_name (const char *name, gconstpointer data)
{
  static const char *const outside[][2] = {
    { "embeddings.cls_token", "cls_token" },
    { "embeddings.mask_token", "mask_token" },
    { "embeddings.patch_embeddings.projection.", "patch_embed.proj." },
    { "embeddings.position_embeddings", "pos_embed" },
    { "layernorm.", "norm." },
  };
  static const char *const inside[][2] = {
    { "layernorm_before.", "norm1." },
    { "layernorm_after.", "norm2." },
    { "attention.projection_layer.", "attn.proj." },
    { "attention.", "attn." },
    { "lambda_1", "gamma_1" },
    { "lambda_2", "gamma_2" },
  };
  return TIMM_NAME_UNDER (name, (const char *) data, outside, "encoder.layer.", inside);
}

/* InternViT's tower as transformers' InternVL (OpenGVLab/InternVL3-*-hf: InternVLModel's
 * vision_tower., model.vision_tower. as transformers has written it since 4.52) holds it:
 * renamed to timm's, vision_config's settings. Without a final norm (use_mean_pooling) its
 * pooled output is the mean patch token as it is; with one, the class token after it.
 * InternViT-6B's norm of the queries and keys (use_qk_norm) and RMSNorm are refused. */
static gboolean
rename_hf_internvl (Loader *L, GError **error)
{
  static const char *const prefixes[] = { "model.vision_tower.", "vision_tower.", "" };
  const char *prefix = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (prefixes) && !prefix; i++) {
    char *lambda = g_strconcat (prefixes[i], "encoder.layer.0.lambda_1", NULL);
    char *q = g_strconcat (prefixes[i], "encoder.layer.0.attention.q_proj.weight", NULL);
    if (find (L, lambda) && find (L, q))
      prefix = prefixes[i];
    g_free (lambda), g_free (q);
  }
  if (!prefix)
    return TRUE;
  if (!settings_in_part (L, "vision_config", error))
    return FALSE;
  JsonObject *given = L->config;
  const char *norm = json_str (given, "norm_type");
  char *q_norm = g_strconcat (prefix, "encoder.layer.0.attention.q_norm.weight", NULL);
  gboolean qk_norm = json_bool (given, "use_qk_norm", FALSE) || find (L, q_norm);
  g_free (q_norm);
  if (qk_norm || (norm && strcmp (norm, "layer_norm") != 0))
    return model_error (error, L,
                        "an InternVL vision tower with %s (InternViT-6B's layout), which heed "
                        "does not run: it runs InternViT-300M's",
                        qk_norm ? "a norm of its queries and keys (use_qk_norm)"
                                : "RMSNorm (norm_type)");
  JsonObject *settings = own_settings (L);
  char *final_norm = g_strconcat (prefix, "layernorm.weight", NULL);
  if (!find (L, final_norm))
    json_object_set_string_member (settings, "global_pool", "avg");
  g_free (final_norm);
  L->renamed_from = "transformers' InternVL", L->renamed_under = prefix;
  return rename_tensors (L, hf_internvl_timm_name, prefix, error);
}

/* The grid of a model whose tensors do not give it (DINOv3's, with no position embedding; any
 * other it runs at too): the side its config says it was made for (timm's
 * pretrained_cfg.input_size, transformers' image_size), 224 px where none says, over the patch */
static gboolean
config_image_side (const Loader *L, guint patch, guint *grid, GError **error)
{
  guint64 side = 224;
  if (!json_uint (timm_input_width (member_object (L->config, "pretrained_cfg")), &side))
    json_uint (member (L->config, "image_size"), &side);
  if (side < patch || side > 4096 || side % patch)
    return model_error (error, L,
                        "the config's image size %" G_GUINT64_FORMAT " px is not a multiple of "
                        "the patch size %u up to 4096",
                        side, patch);
  *grid = (guint) (side / patch);
  return TRUE;
}

/* The rotary position embedding, which no tensor shows (but RoPE-Mixed's learnt frequencies,
 * rope.freqs): by timm's architecture (EVA-02's eva02_*, its SBB ViTs' vit_*_rope_reg*, naver's
 * RoPE-ViT vit_*_patch16_rope_*224, DINOv3's *_dinov3*, the Perception Encoder's vit_pe_core_*)
 * or model_args (use_rot_pos_emb, rope_type, rope_grid_indexing, rope_grid_offset,
 * rope_temperature, ref_feat_shape), or transformers' DINOv3ViTModel. */
static gboolean
read_rope (Loader *L, HeedModelConfig *c, const char *arch, JsonObject *margs, GError **error)
{
  const char *kind = json_str (margs, "rope_type");
  const char *name = arch ? arch : "";
  gboolean sbb = strstr (name, "_rope_reg") != NULL; /* timm's SBB ViTs: EVA-02's kind */
  /* the Perception Encoder's: EVA-02's kind, column first, positions from 1 (but the gigantic
   * ones' from 0) in the units of the checkpoint's own grid */
  gboolean pe = g_str_has_prefix (name, "vit_pe_");
  gboolean axial = !sbb && strstr (name, "_rope_") != NULL; /* naver's RoPE-ViT */
  c->rope_dinov3 =
      L->hf_dinov3 || g_strcmp0 (kind, "dinov3") == 0 || (!kind && strstr (name, "dinov3"));
  /* RoPE-Mixed's frequencies are a tensor: the weights say it is there */
  c->rope_mixed = !L->hf && find (L, "rope.freqs");
  gboolean says_mixed = g_strcmp0 (kind, "mixed") == 0 ||
                        json_bool (margs, "rope_mixed_mode", FALSE) || strstr (name, "_rope_mixed");
  c->rope = json_bool (margs, "use_rot_pos_emb",
                       c->rope_dinov3 || sbb || axial || c->rope_mixed || pe ||
                           g_str_has_prefix (name, "eva02_"));
  if (c->rope_mixed != says_mixed)
    return model_error (error, L,
                        c->rope_mixed ? "tensor 'rope.freqs' (RoPE-Mixed's) without a config.json "
                                        "that names it (a *_rope_mixed_* architecture, "
                                        "model_args.rope_type \"mixed\"): which axis each "
                                        "frequency is for is not in the weights"
                                      : "the config names RoPE-Mixed but tensor 'rope.freqs' is "
                                        "missing");
  if (c->rope && kind && strcmp (kind, "cat") != 0 && strcmp (kind, "dinov3") != 0 &&
      !c->rope_mixed)
    return model_error (error, L,
                        "model_args.rope_type \"%s\": heed runs timm's \"cat\" rotary position "
                        "embedding (EVA-02's, RoPE-ViT's axial one), RoPE-Mixed and DINOv3's, not "
                        "this",
                        kind);
  /* timm's grid_indexing "xy": a head's first half of pairs turns by the column, not the row */
  const char *indexing = json_str (margs, "rope_grid_indexing");
  if (!indexing)
    indexing = axial || pe ? "xy" : "ij"; /* naver's RoPE-ViT, axial and mixed */
  c->rope_columns_first = strcmp (indexing, "xy") == 0;
  double offset = pe && !strstr (name, "_gigantic_") ? 1 : 0;
  JsonNode *offset_node = member (margs, "rope_grid_offset");
  if (offset_node && !json_number (offset_node, &offset))
    offset = G_MAXDOUBLE;
  if (c->rope && (json_bool (margs, "rope_rotate_half", c->rope_dinov3) != c->rope_dinov3 ||
                  (!c->rope_columns_first && strcmp (indexing, "ij") != 0) ||
                  ((c->rope_dinov3 || c->rope_mixed) && offset != 0)))
    return model_error (error, L,
                        "model_args sets rope_rotate_half, rope_grid_indexing or "
                        "rope_grid_offset to other than %s's: heed does not run that variant",
                        c->rope_dinov3 ? "DINOv3" : "timm's \"cat\" embedding");
  if (!(offset >= 0 && offset <= 1024))
    return model_error (error, L, "model_args.rope_grid_offset must be a number from 0 to 1024");
  c->rope_grid_offset = (float) offset;
  double base = c->rope_dinov3 || axial ? 100 : 10000;
  if (L->hf_dinov3)
    json_number (member (L->config, "rope_theta"), &base);
  else
    json_number (member (margs, "rope_temperature"), &base);
  if (!(base > 1 && base < 1e9))
    return model_error (error, L,
                        "the rotary embedding's base (rope_theta, rope_temperature) "
                        "must be above 1");
  c->rope_base = (float) base;
  /* positions in a reference grid's units: EVA-02's and the SBB ViTs' learnt at 16 x 16 (their
   * definitions say so, not config.json); as plain indices (0) where timm is given none */
  c->rope_ref_grid = g_str_has_prefix (name, "eva02_") || sbb ? 16 : 0;
  L->rope_ref_native = pe;
  JsonNode *ref = margs ? member (margs, "ref_feat_shape") : NULL;
  if (ref && !JSON_NODE_HOLDS_NULL (ref)) {
    guint64 v = 0, w = 0;
    JsonArray *a = JSON_NODE_HOLDS_ARRAY (ref) ? json_node_get_array (ref) : NULL;
    gboolean ok = a ? json_array_get_length (a) == 2 &&
                          json_uint (json_array_get_element (a, 0), &v) &&
                          json_uint (json_array_get_element (a, 1), &w) && v == w
                    : json_uint (ref, &v);
    if (!ok || v == 0 || v > 1024)
      return model_error (error, L,
                          "model_args.ref_feat_shape must be a grid side (or two equal ones) "
                          "from 1 to 1024");
    c->rope_ref_grid = (guint) v;
    L->rope_ref_native = FALSE;
  }
  return TRUE;
}

/* What config.json says a checkpoint is (timm's architecture, transformers' model_type), for
 * the message that refuses one that is not a ViT; NULL where it says nothing */
static const char *
named_model (const Loader *L)
{
  const char *arch = json_str (L->config, "architecture");
  return arch ? arch : json_str (L->config, "model_type");
}
/* ---- Swin ---------------------------------------------------------------------------------- */

/* Where a Swin checkpoint's tensors are: timm's names (swin_*: layers.S.blocks.B.attn.qkv,
 * patch merging as layers.S.downsample at the start of stage S since timm 0.9, at the end of
 * stage S - 1 in older files and the authors' own), or transformers' (SwinModel;
 * SwinForImageClassification's under swin.) */
typedef struct {
  gboolean hf;
  const char *prefix;    /* transformers': "swin." or "" */
  gboolean merge_at_end; /* timm's older layout: layers.S.downsample before stage S + 1 */
  const char *head;      /* the head's weight and bias under it: timm's head.fc. (head. before
                          * its ClassifierHead), transformers' classifier. */
} SwinNames;

static gboolean
swin_layout (const Loader *L, SwinNames *n)
{
  /* swinv2.: Swinv2ForImageClassification's (Swin V2's blocks, HeedModelConfig's swin_v2) */
  static const char *const hf_prefixes[] = { "swin.", "", "swinv2." };
  *n = (SwinNames){ FALSE, "", FALSE, "head.fc." };
  if (find (L, "layers.0.blocks.0.attn.relative_position_bias_table") ||
      find (L, "layers.0.blocks.0.attn.logit_scale")) {
    n->merge_at_end = find (L, "layers.0.downsample.reduction.weight") != NULL;
    if (!find (L, "head.fc.weight") && find (L, "head.weight"))
      n->head = "head.";
    return TRUE;
  }
  for (guint i = 0; i < G_N_ELEMENTS (hf_prefixes); i++) {
    char *table = g_strconcat (hf_prefixes[i],
                               "encoder.layers.0.blocks.0.attention.self.relative_position_bias_"
                               "table",
                               NULL);
    char *v2 =
        g_strconcat (hf_prefixes[i], "encoder.layers.0.blocks.0.attention.self.logit_scale", NULL);
    gboolean found = find (L, table) || find (L, v2);
    g_free (table), g_free (v2);
    if (found) {
      *n = (SwinNames){ TRUE, hf_prefixes[i], TRUE, "classifier." };
      return TRUE;
    }
  }
  return FALSE;
}

/* Block b of stage s's tensor by timm's suffix within a block (norm1.weight, attn.proj.bias,
 * mlp.fc1.weight, attn.relative_position_bias_table), in the checkpoint's names */
static char *
swin_block_name (const SwinNames *n, guint s, guint b, const char *timm)
{
  static const char *const hf[][2] = {
    { "norm1.", "layernorm_before." },
    { "norm2.", "layernorm_after." },
    { "attn.proj.", "attention.output.dense." },
    { "mlp.fc1.", "intermediate.dense." },
    { "mlp.fc2.", "output.dense." },
    { "attn.", "attention.self." },
  };
  if (!n->hf)
    return g_strdup_printf ("layers.%u.blocks.%u.%s", s, b, timm);
  for (guint i = 0; i < G_N_ELEMENTS (hf); i++)
    if (g_str_has_prefix (timm, hf[i][0]))
      return g_strdup_printf ("%sencoder.layers.%u.blocks.%u.%s%s", n->prefix, s, b, hf[i][1],
                              timm + strlen (hf[i][0]));
  return g_strdup_printf ("%sencoder.layers.%u.blocks.%u.%s", n->prefix, s, b, timm);
}

/* The patch merging before stage s (>= 1): "norm.weight", "reduction.weight", ... */
static char *
swin_merge_name (const SwinNames *n, guint s, const char *what)
{
  if (n->hf)
    return g_strdup_printf ("%sencoder.layers.%u.downsample.%s", n->prefix, s - 1, what);
  return g_strdup_printf ("layers.%u.downsample.%s", n->merge_at_end ? s - 1 : s, what);
}

/* A tensor outside the blocks by timm's name and transformers' suffix after the prefix */
static char *
swin_name (const SwinNames *n, const char *timm, const char *hf)
{
  return n->hf ? g_strconcat (n->prefix, hf, NULL) : g_strdup (timm);
}

static float *
swin_take (const Loader *L, char *name, guint ndim, const guint64 *shape, GError **error)
{
  float *t = take (L, name, ndim, shape, error);
  g_free (name);
  return t;
}

/* timm's swinv2_*_windowW_SIZE, or fine-tuned from a smaller window swinv2_*_windowPtoW_
 * PSIZEtoSIZE: the window W, and each stage's pretraining window (P cut to the stage's grid at
 * PSIZE px, as timm's pretrained_window_sizes (12, 12, 12, 6) for 192 px are); FALSE where the
 * name says no window */
static gboolean
swinv2_arch_windows (const char *arch, guint patch, guint *window,
                     guint pretrained[HEED_SWIN_MAX_STAGES])
{
  const char *at = arch ? strstr (arch, "_window") : NULL;
  guint first = 0, second = 0, size = 0;
  int used = 0;
  if (!at || sscanf (at, "_window%u%n", &first, &used) != 1 || first == 0)
    return FALSE;
  at += used;
  if (sscanf (at, "to%u%n", &second, &used) == 1 && second) {
    at += used;
    if (sscanf (at, "_%u", &size) != 1 || size < patch)
      return FALSE;
    for (guint s = 0; s < HEED_SWIN_MAX_STAGES; s++)
      pretrained[s] = MIN (first, MAX (size / patch >> s, 1));
  }
  *window = second ? second : first;
  return TRUE;
}

/* Swin V2's window and its stages' pretraining windows, which no tensor holds: transformers'
 * config.json window_size and pretrained_window_sizes, timm's model_args or else architecture
 * name, else (the authors' own files) the window of the buffers stored in stage 0's first
 * block (relative_position_index, relative_coords_table) */
static gboolean
read_swinv2_windows (const Loader *L, const SwinNames *n, guint patch, guint *window,
                     guint pretrained[HEED_SWIN_MAX_STAGES], GError **error)
{
  JsonObject *margs = member_object (L->config, "model_args");
  JsonNode *sizes = member (margs, "pretrained_window_sizes");
  guint64 v;
  memset (pretrained, 0, HEED_SWIN_MAX_STAGES * sizeof (guint));
  *window = 0;
  if (json_uint (member (L->config, "window_size"), &v) ||
      json_uint (member (margs, "window_size"), &v))
    *window = v <= 256 ? (guint) v : 0;
  else if (!swinv2_arch_windows (json_str (L->config, "architecture"), patch, window, pretrained)) {
    char *index = swin_block_name (n, 0, 0, "attn.relative_position_index");
    char *coords = swin_block_name (n, 0, 0, "attn.relative_coords_table");
    TensorEntry *e = find (L, index), *t = find (L, coords);
    if (e && e->ndim == 2 && is_square (e->shape[0]))
      *window = (guint) sqrt ((double) e->shape[0]);
    else if (t && t->ndim == 4 && t->shape[1] % 2)
      *window = (guint) (t->shape[1] + 1) / 2;
    g_free (index), g_free (coords);
  }
  if (!*window || *window > 256)
    return model_error (error, L,
                        "a Swin V2 checkpoint that says no window of up to 256: heed reads it "
                        "from config.json's window_size (transformers) or architecture (timm's "
                        "swinv2_*_windowN_*)");
  if (!sizes)
    sizes = member (L->config, "pretrained_window_sizes");
  if (sizes && !JSON_NODE_HOLDS_NULL (sizes)) {
    JsonArray *a = JSON_NODE_HOLDS_ARRAY (sizes) ? json_node_get_array (sizes) : NULL;
    for (guint s = 0; a && s < json_array_get_length (a) && s < HEED_SWIN_MAX_STAGES; s++)
      if (!json_uint (json_array_get_element (a, s), &v) || v > 256)
        a = NULL;
      else
        pretrained[s] = (guint) v;
    if (!a)
      return model_error (error, L, "pretrained_window_sizes must be a list of windows");
  }
  return TRUE;
}

/* The stages' shapes from the tensors, the window from the tables (Swin V2's from the config),
 * the input size from the config; what heed does not run refused with one line */
static gboolean
read_swin_config (Loader *L, const SwinNames *n, HeedModel *m, GError **error)
{
  HeedModelConfig *c = &m->config;
  char *name;
  TensorEntry *e;
  /* Swin V2 (timm's swinv2_*, transformers' Swinv2Model): cosine attention with a learnt scale
   * and the bias table from an MLP, which holds no window */
  name = swin_block_name (n, 0, 0, "attn.logit_scale");
  c->swin_v2 = find (L, name) != NULL;
  c->swin_pad_first = n->hf; /* transformers' padding, else timm's */
  g_free (name);
  name = swin_name (n, "patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight");
  e = find (L, name);
  g_free (name);
  if (!e || e->ndim != 4 || e->shape[1] != 3 || e->shape[2] != e->shape[3] || e->shape[2] == 0 ||
      e->shape[2] > 64 || e->shape[0] == 0 || e->shape[0] > 8192)
    return model_error (error, L,
                        "a Swin checkpoint without a patch embedding of 3 channels "
                        "(patch_embed.proj.weight, embeddings.patch_embeddings.projection"
                        ".weight) [dim, 3, p, p]");
  c->in_chans = 3;
  c->patch_size = (guint) e->shape[2];
  guint dim = (guint) e->shape[0], grid, v2_window = 0, pretrained[HEED_SWIN_MAX_STAGES];
  if (!config_image_side (L, c->patch_size, &grid, error) ||
      (c->swin_v2 && !read_swinv2_windows (L, n, c->patch_size, &v2_window, pretrained, error)))
    return FALSE;
  c->img_size = grid * c->patch_size;
  if (find (L, n->hf ? (n->prefix[0] ? "swin.embeddings.position_embeddings"
                                     : "embeddings.position_embeddings")
                     : "absolute_pos_embed"))
    return model_error (error, L,
                        "a Swin with an absolute position embedding (ape, "
                        "use_absolute_embeddings), which heed does not run");
  const char *act = json_str (L->config, "hidden_act");
  if (act && strcmp (act, "gelu") != 0)
    return model_error (error, L, "a Swin with activation %s: heed runs Swin's GELU", act);
  c->depth = 0;
  for (guint s = 0;; s++) {
    /* each stage's heads: its bias table's columns, Swin V2's logit_scale [heads, 1, 1] */
    name = swin_block_name (n, s, 0,
                            c->swin_v2 ? "attn.logit_scale" : "attn.relative_position_bias_table");
    e = find (L, name);
    g_free (name);
    if (!e)
      break;
    if (s == HEED_SWIN_MAX_STAGES)
      return model_error (error, L, "a Swin of more than %u stages", HEED_SWIN_MAX_STAGES);
    HeedSwinStage *st = &c->swin[s];
    st->dim = s ? 2 * c->swin[s - 1].dim : dim;
    if (c->swin_v2) {
      if (e->ndim != 3 || e->shape[0] == 0 || e->shape[0] > 256 || e->shape[1] != 1 ||
          e->shape[2] != 1)
        return model_error (error, L, "stage %u's logit_scale must be [heads, 1, 1]", s);
      /* the window, cut to a grid no larger than it, heed_swin_fit's */
      st->model_window = v2_window, st->heads = (guint) e->shape[0];
      st->pretrained_window = pretrained[s];
    } else {
      guint side = e->ndim == 2 ? (guint) sqrt ((double) e->shape[0]) : 0;
      if (side % 2 == 0 || (guint64) side * side != e->shape[0] || e->shape[1] == 0 ||
          e->shape[1] > 256)
        return model_error (error, L,
                            "stage %u's relative_position_bias_table must be [(2 window - 1)^2, "
                            "heads]",
                            s);
      st->window = (side + 1) / 2, st->heads = (guint) e->shape[1];
    }
    for (st->depth = 0;; st->depth++) {
      name = swin_block_name (n, s, st->depth, "norm1.weight");
      gboolean there = find (L, name) != NULL;
      g_free (name);
      if (!there)
        break;
    }
    name = swin_block_name (n, s, 0, "mlp.fc1.weight");
    e = find (L, name);
    g_free (name);
    if (!st->depth || !e || e->ndim != 2 || e->shape[1] != st->dim || e->shape[0] == 0 ||
        e->shape[0] > 65536)
      return model_error (error, L, "stage %u of this Swin has no blocks %u wide", s, st->dim);
    st->mlp_hidden = (guint) e->shape[0];
    if (st->dim % st->heads)
      return model_error (error, L, "stage %u: %u heads do not divide its width %u", s, st->heads,
                          st->dim);
    c->depth += st->depth;
    c->swin_stages = s + 1;
  }
  if (!c->swin_stages)
    return model_error (error, L, "a Swin without stages");
  /* each stage's grid and shift at the checkpoint's size, the windows tiling every grid */
  char *unfit = heed_swin_fit (c, c->img_size);
  if (unfit) {
    model_error (error, L, "%s", unfit);
    g_free (unfit);
    return FALSE;
  }
  HeedSwinStage *last = &c->swin[c->swin_stages - 1];
  c->num_prefix = 0, c->dim = last->dim, c->num_heads = last->heads;
  c->head_dim = last->dim / last->heads, c->mlp_hidden = last->mlp_hidden;
  c->avg_pool = c->pool_after_norm = TRUE; /* the mean of the normed tokens */
  name = g_strconcat (n->head, "weight", NULL);
  e = find (L, name);
  g_free (name);
  if (e && (e->ndim != 2 || e->shape[1] != c->dim || e->shape[0] == 0 || e->shape[0] > 1u << 20))
    return model_error (error, L, "classification head must be [classes, %u]", c->dim);
  c->num_classes = e ? (guint) e->shape[0] : 0;
  c->ln_eps = 1e-5f; /* nn.LayerNorm's, which timm's and transformers' Swin use */
  JsonNode *eps = member (L->config, "layer_norm_eps");
  double v;
  if (json_number (eps, &v))
    c->ln_eps = (float) v;
  return read_preprocess (L, c, error) && read_labels (L, c, error);
}

/* The norm or Linear tensors of n floats each under name: weight and bias */
static gboolean
swin_take_pair (const Loader *L, char *w_name, char *b_name, guint64 n, float **w, float **b,
                GError **error)
{
  *w = swin_take (L, w_name, 1, &n, error);
  if (!*w) {
    g_free (b_name);
    return FALSE;
  }
  *b = swin_take (L, b_name, 1, &n, error);
  return *b != NULL;
}

/* A relative_position_index a checkpoint stores (name, taken and freed) must be the lookup heed
 * makes for windows of `window` (heed_swin_relative_bias's) */
static gboolean
check_swin_index (const Loader *L, char *name, guint window, GError **error)
{
  TensorEntry *e = find (L, name);
  guint N = window * window, *index = g_new (guint, (gsize) N * N);
  heed_swin_relative_index (window, index);
  gboolean same = !e || stored_index_is (e, index, N);
  g_free (index);
  if (e)
    e->taken = TRUE;
  if (!same)
    model_error (error, L,
                 "tensor '%s' is not Swin's lookup of its table for windows of %u x %u: a "
                 "variant heed does not run",
                 name, window, window);
  g_free (name);
  return same;
}

/* Swin V2 block b of stage s's position MLP, into w (cpb_w1, cpb_b1, cpb_w2), which makes its
 * bias table. A relative_coords_table the checkpoint stores (older files) must be the MLP's
 * inputs heed makes: where it is not, the config's window or pretraining windows are not the
 * file's. */
static gboolean
read_swinv2_mlp (const Loader *L, const SwinNames *n, const HeedSwinStage *st, guint s, guint b,
                 HeedBlockWeights *w, GError **error)
{
  guint rows = (2 * st->window - 1) * (2 * st->window - 1);
  guint64 w1_shape[2] = { HEED_SWINV2_MLP_HIDDEN, 2 },
          w2_shape[2] = { st->heads, HEED_SWINV2_MLP_HIDDEN };
  guint64 side = 2 * st->window - 1, coords_shape[4] = { 1, side, side, 2 };
  const char *mlp = n->hf ? "attn.continuous_position_bias_mlp." : "attn.cpb_mlp.";
  char what[64];
#define MLP(part)                                                                                  \
  (g_snprintf (what, sizeof what, "%s%s", mlp, part), swin_block_name (n, s, b, what))
  gboolean read = (w->cpb_w1 = swin_take (L, MLP ("0.weight"), 2, w1_shape, error)) &&
                  (w->cpb_b1 = swin_take (L, MLP ("0.bias"), 1, w1_shape, error)) &&
                  (w->cpb_w2 = swin_take (L, MLP ("2.weight"), 2, w2_shape, error));
#undef MLP
  float *own = g_new (float, 2 * rows), *stored = NULL;
  heed_swinv2_coords (st->window, st->pretrained_window, own);
  char *coords = swin_block_name (n, s, b, "attn.relative_coords_table");
  TensorEntry *e = find (L, coords);
  gboolean same = TRUE;
  /* within the stored type's rounding (a model saved in half keeps its buffers in half) */
  float rel = !e                                    ? 0
              : strcmp (e->dtype_name, "BF16") == 0 ? 1.0f / 128
              : strcmp (e->dtype_name, "F16") == 0  ? 1.0f / 1024
                                                    : 1e-6f;
  if (read && e && !(stored = take (L, coords, 4, coords_shape, error)))
    read = FALSE;
  if (stored)
    for (guint i = 0; i < 2 * rows && same; i++)
      same = fabsf (stored[i] - own[i]) <= 1e-5f + rel * fabsf (own[i]);
  if (read && !same)
    model_error (error, L,
                 "tensor '%s' is not Swin V2's offsets for windows of %u pretrained at %u: the "
                 "config's window_size or pretrained_window_sizes are not this file's",
                 coords, st->window, st->pretrained_window ? st->pretrained_window : st->window);
  g_free (coords), g_free (own), g_free (stored);
  return read && same;
}

/* Swin V2 block b of stage s's cosine attention's scales [heads]: exp (logit_scale), the
 * logit_scale cut at log (100) as timm and transformers do */
static float *
swinv2_scales (const Loader *L, const SwinNames *n, const HeedSwinStage *st, guint s, guint b,
               GError **error)
{
  guint64 shape[3] = { st->heads, 1, 1 };
  float *scale = swin_take (L, swin_block_name (n, s, b, "attn.logit_scale"), 3, shape, error);
  for (guint h = 0; scale && h < st->heads; h++)
    scale[h] = expf (fminf (scale[h], logf (100.0f)));
  return scale;
}

static gboolean
read_swin_weights (Loader *L, const SwinNames *n, HeedModel *m, GError **error)
{
  const HeedModelConfig *c = &m->config;
  guint D0 = c->swin[0].dim, p = c->patch_size, l = 0;
  guint64 patch_shape[4] = { D0, 3, p, p };
  if (!(m->patch_w = swin_take (L,
                                swin_name (n, "patch_embed.proj.weight",
                                           "embeddings.patch_embeddings.projection.weight"),
                                4, patch_shape, error)) ||
      !(m->patch_b = swin_take (
            L,
            swin_name (n, "patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias"),
            1, patch_shape, error)) ||
      !swin_take_pair (L, swin_name (n, "patch_embed.norm.weight", "embeddings.norm.weight"),
                       swin_name (n, "patch_embed.norm.bias", "embeddings.norm.bias"), D0,
                       &m->patch_norm_w, &m->patch_norm_b, error))
    return FALSE;
  m->blocks = g_new0 (HeedBlockWeights, c->depth);
  for (guint s = 0; s < c->swin_stages; s++) {
    const HeedSwinStage *st = &c->swin[s];
    guint64 D = st->dim, Hd = st->mlp_hidden, N = (guint64) st->window * st->window;
    if (s) {
      guint64 in = D / 2; /* the stage before's width, 4 of its tokens merged */
      guint64 w_shape[2] = { D, 4 * in };
      /* the norm before the Linear, over its input; Swin V2's after it, over its output */
      if (!swin_take_pair (L, swin_merge_name (n, s, "norm.weight"),
                           swin_merge_name (n, s, "norm.bias"), c->swin_v2 ? D : 4 * in,
                           &m->merge_norm_w[s], &m->merge_norm_b[s], error) ||
          !(m->merge_w[s] =
                swin_take (L, swin_merge_name (n, s, "reduction.weight"), 2, w_shape, error)))
        return FALSE;
    }
    for (guint b = 0; b < st->depth; b++, l++) {
      HeedBlockWeights *w = &m->blocks[l];
      guint64 qkv_shape[2] = { 3 * D, D }, proj_shape[2] = { D, D };
      guint64 fc1_shape[2] = { Hd, D }, fc2_shape[2] = { D, Hd };
      guint64 table_shape[2] = { (2 * st->window - 1) * (2 * st->window - 1), st->heads };
#define BLOCK(what) swin_block_name (n, s, b, what)
      if (!swin_take_pair (L, BLOCK ("norm1.weight"), BLOCK ("norm1.bias"), D, &w->norm1_w,
                           &w->norm1_b, error) ||
          !swin_take_pair (L, BLOCK ("norm2.weight"), BLOCK ("norm2.bias"), D, &w->norm2_w,
                           &w->norm2_b, error) ||
          !(w->proj_w = swin_take (L, BLOCK ("attn.proj.weight"), 2, proj_shape, error)) ||
          !(w->proj_b = swin_take (L, BLOCK ("attn.proj.bias"), 1, &D, error)) ||
          !(w->fc1_w = swin_take (L, BLOCK ("mlp.fc1.weight"), 2, fc1_shape, error)) ||
          !(w->fc1_b = swin_take (L, BLOCK ("mlp.fc1.bias"), 1, &Hd, error)) ||
          !(w->fc2_w = swin_take (L, BLOCK ("mlp.fc2.weight"), 2, fc2_shape, error)) ||
          !(w->fc2_b = swin_take (L, BLOCK ("mlp.fc2.bias"), 1, &D, error)))
        return FALSE;
      if (n->hf) { /* query, key and value apart */
        w->qkv_w = g_new (float, 3 * D * D);
        w->qkv_b = g_new0 (float, 3 * D);
        const char *parts[] = { "query", "key", "value" };
        for (guint i = 0; i < 3; i++) {
          char what[64];
          g_snprintf (what, sizeof what, "attn.%s.weight", parts[i]);
          float *t = swin_take (L, BLOCK (what), 2, proj_shape, error);
          if (!t)
            return FALSE;
          memcpy (w->qkv_w + i * D * D, t, D * D * sizeof (float));
          g_free (t);
          g_snprintf (what, sizeof what, "attn.%s.bias", parts[i]);
          char *bias = BLOCK (what);
          t = find (L, bias) ? take (L, bias, 1, &D, error) : g_new0 (float, D);
          g_free (bias);
          if (!t)
            return FALSE;
          memcpy (w->qkv_b + i * D, t, D * sizeof (float));
          g_free (t);
        }
      } else {
        char *bias = BLOCK ("attn.qkv.bias");
        w->qkv_w = swin_take (L, BLOCK ("attn.qkv.weight"), 2, qkv_shape, error);
        w->qkv_b = w->qkv_w ? take_or_zero (L, bias, 3 * D, error) : NULL;
        g_free (bias);
        if (!w->qkv_b)
          return FALSE;
        /* Swin V2's query and value biases apart (its key has none) */
        const char *parts[] = { "attn.q_bias", "attn.v_bias" };
        for (guint i = 0; i < 2 && c->swin_v2; i++) {
          char *part = BLOCK (parts[i]);
          float *t = take_or_zero (L, part, D, error);
          g_free (part);
          if (!t)
            return FALSE;
          memcpy (w->qkv_b + 2 * i * D, t, D * sizeof (float));
          g_free (t);
        }
      }
      if (c->swin_v2) { /* the table from the position MLP, the scales of cosine attention */
        if (!read_swinv2_mlp (L, n, st, s, b, w, error) ||
            !(w->qk_scale = swinv2_scales (L, n, st, s, b, error)))
          return FALSE;
        w->attn_bias = heed_swinv2_block_bias (w, st);
      } else {
        float *table =
            swin_take (L, BLOCK ("attn.relative_position_bias_table"), 2, table_shape, error);
        if (!table)
          return FALSE;
        w->attn_bias = g_new (float, st->heads *N *N);
        heed_swin_relative_bias (table, st->window, st->heads, w->attn_bias);
        g_free (table);
      }
      /* buffers heed computes itself: the shifted windows' mask (timm's older files), and the
       * table's index (transformers' files, timm's older ones), which must be heed's */
      char *buffer = BLOCK ("attn_mask");
      TensorEntry *e = find (L, buffer);
      if (e)
        e->taken = TRUE;
      g_free (buffer);
      if (!check_swin_index (L, BLOCK ("attn.relative_position_index"), st->window, error))
        return FALSE;
#undef BLOCK
    }
  }
  guint64 D = c->dim;
  if (!swin_take_pair (L, swin_name (n, "norm.weight", "layernorm.weight"),
                       swin_name (n, "norm.bias", "layernorm.bias"), D, &m->norm_w, &m->norm_b,
                       error))
    return FALSE;
  if (c->num_classes) {
    guint64 head_shape[2] = { c->num_classes, D };
    if (!(m->head_w = swin_take (L, g_strconcat (n->head, "weight", NULL), 2, head_shape, error)) ||
        !(m->head_b = swin_take (L, g_strconcat (n->head, "bias", NULL), 1, head_shape, error)))
      return FALSE;
  }
  /* SwinForMaskedImageModeling's mask token: pretraining's, never in a frame's tokens */
  char *mask_token = swin_name (n, "mask_token", "embeddings.mask_token");
  TensorEntry *mask = find (L, mask_token);
  if (mask)
    mask->taken = TRUE;
  g_free (mask_token);
  /* a tensor in the stages or the patch embedding that nothing read: a variant heed does not
   * know, refused rather than run without it */
  char *stages = swin_name (n, "layers.", "encoder.layers.");
  char *patch = swin_name (n, "patch_embed.", "embeddings.");
  const char *parts[] = { stages, patch };
  const char *unread = first_unread (L, parts, G_N_ELEMENTS (parts));
  if (unread)
    model_error (error, L,
                 "tensor '%s' belongs to no Swin layout heed runs: refused rather than run "
                 "without it",
                 unread);
  g_free (stages), g_free (patch);
  return unread == NULL;
}

static gboolean
read_swin (Loader *L, const SwinNames *n, HeedModel *m, GError **error)
{
  L->hf = n->hf, L->prefix = n->prefix; /* for the names the description gives */
  return read_swin_config (L, n, m, error) && read_swin_weights (L, n, m, error);
}

#define PRINTF_NAMED(name)                                                                         \
  (name) ? " (config.json names \"" : "", (name) ? (name) : "", (name) ? "\")" : ""

static gboolean
read_config (Loader *L, HeedModel *m, GError **error)
{
  HeedModelConfig *c = &m->config;
  char *name;
  TensorEntry *e;

  if (find (L, "patch_embed.proj.weight")) {
    L->hf = FALSE;
  } else {
    /* ... and "encoder.", a VisionEncoderDecoderModel's image encoder (ViT's, DeiT's or
     * BEiT's names: nlpconnect/vit-gpt2-image-captioning, microsoft/trocr-*), its settings in
     * config.json's encoder; DPT's ViT (dpt.: Intel/dpt-large); a depth model's DINOv2
     * backbone (backbone.: Depth Anything's), its settings in config.json's backbone_config;
     * the decoder or depth head beside it unread */
    const char *prefixes[] = { "vit.",     "",         "deit.",
                               "dinov2.",  "beit.",    "data2vec_vision.",
                               "ijepa.",   "encoder.", "dpt.",
                               "backbone." };
    for (guint i = 0; i < G_N_ELEMENTS (prefixes) && !L->hf; i++) {
      L->prefix = prefixes[i];
      name = hf_name (L, "embeddings.patch_embeddings.projection.weight");
      L->hf = find (L, name) != NULL;
      g_free (name);
    }
    if (L->hf && strcmp (L->prefix, "encoder.") == 0 && !settings_in_part (L, "encoder", error))
      return FALSE;
    if (L->hf && strcmp (L->prefix, "backbone.") == 0 &&
        !settings_in_part (L, "backbone_config", error))
      return FALSE;
    /* transformers' CLIP (CLIPModel, CLIPVisionModel): its image tower, the text tower
     * beside it unread; its settings in config.json's vision_config (CLIPModel's). The same
     * tower (CLIP's, or SigLIP's without a class token) inside a captioning or vision-language
     * model: GIT's git.image_encoder., LLaVA's and PaliGemma's vision_tower. (model. in the
     * files transformers writes since its 4.52), Idefics' and SmolVLM's model., CLIPSeg's
     * clip., Kosmos-2's vision_model.model., OWL-ViT's owlvit. and OWLv2's owlv2. (whose norm
     * before the blocks is pre_layernorm), its language model, decoder, detection heads and
     * projector unread */
    static const char *const towers[] = {
      "vision_model.",
      "git.image_encoder.vision_model.",
      "vision_tower.vision_model.",
      "model.vision_tower.vision_model.",
      "model.vision_model.",
      "clip.vision_model.",
      "vision_model.model.",
      "owlvit.vision_model.",
      "owlv2.vision_model.",
    };
    for (guint i = 0; i < G_N_ELEMENTS (towers) && !L->hf; i++) {
      L->prefix = towers[i];
      name = hf_name (L, "embeddings.patch_embedding.weight");
      L->hf = L->clip = find (L, name) != NULL;
      g_free (name);
    }
    if (L->clip) {
      name = hf_name (L, "embeddings.class_embedding");
      L->siglip = !find (L, name);
      g_free (name);
      name = hf_name (L, "pre_layernorm.weight");
      L->pre_norm = find (L, name) ? "pre_layernorm" : "pre_layrnorm";
      g_free (name);
      if (!settings_in_part (L, "vision_config", error))
        return FALSE;
    }
    /* transformers' I-JEPA (IJepaModel, IJepaForImageClassification's ijepa.): ViT's names
     * without a class token */
    name = hf_name (L, "embeddings.cls_token");
    L->no_class_token = L->siglip || (L->hf && !L->clip && !find (L, name));
    g_free (name);
    if (!L->hf)
      return model_error (error, L,
                          "not a ViT checkpoint%s%s%s: neither timm's "
                          "'patch_embed.proj.weight' nor Hugging Face's "
                          "'embeddings.patch_embeddings.projection.weight' is present",
                          PRINTF_NAMED (named_model (L)));
  }
  /* timm's hierarchical transformers (Swin, PVT, ...) embed patches by the same name but run
   * stages of blocks over shrinking grids, not one sequence */
  if (!L->hf && !find (L, "blocks.0.norm1.weight"))
    return model_error (error, L,
                        "not a plain ViT%s%s%s: 'patch_embed.proj.weight' but no "
                        "'blocks.0.norm1.weight' (heed runs one sequence of tokens through its "
                        "blocks, not stages over shrinking grids such as Swin's)",
                        PRINTF_NAMED (named_model (L)));
  /* facebookresearch/dinov3's own checkpoints: no config says their heads or their rotary
   * embedding's base (and their stored periods are rounded to bfloat16) */
  if (!L->hf && find (L, "storage_tokens"))
    return model_error (error, L,
                        "a checkpoint of facebookresearch/dinov3's own (storage_tokens): heed "
                        "runs DINOv3 from the hub's files, timm's (timm/vit_*_dinov3.*) or "
                        "transformers' (facebook/dinov3-*), which say what this one does not");
  /* timm's rotary embeddings other than EVA-02's (its SBB ViTs' too), RoPE-ViT's, DINOv3's and
   * the Perception Encoder's turn by other angles, and no tensor shows them: refused by the
   * architecture's name, before the missing pos_embed says less */
  const char *arch = json_str (L->config, "architecture"); /* timm's config.json */
  if (arch && strstr (arch, "rope") && !strstr (arch, "_rope_"))
    return model_error (error, L,
                        "architecture %s has a rotary position embedding of a kind heed does not "
                        "run (it runs EVA-02's, RoPE-ViT's, DINOv3's and the Perception "
                        "Encoder's)",
                        arch);
  JsonObject *margs = member_object (L->config, "model_args");
  if (!read_rope (L, c, arch, margs, error))
    return FALSE;
  /* RMSNorm for every norm, and no biases (AIMv2's: timm's aimv2_*, or a model_args that
   * names the norm) */
  const char *norm_layer = json_str (margs, "norm_layer");
  c->rms_norm = L->aimv2 || (arch && g_str_has_prefix (arch, "aimv2_")) ||
                (norm_layer && (g_ascii_strcasecmp (norm_layer, "rmsnorm") == 0 ||
                                g_ascii_strcasecmp (norm_layer, "rms_norm") == 0));

  if (L->hf) {
    name = hf_name (L, "encoder.layer.0.norm1.weight");
    L->dinov2 = find (L, name) != NULL;
    g_free (name);
  }
  /* SwiGLU MLPs by their own names (DINOv2 giant's): transformers' weights_in/weights_out,
   * facebookresearch/dinov2's w12/w3; timm packs them as fc1 and fc2 (see below) */
  L->fc1 = "mlp.fc1", L->fc2 = "mlp.fc2";
  name = L->hf ? hf_name (L, "encoder.layer.0.mlp.weights_in.weight")
               : g_strdup ("blocks.0.mlp.w12.weight");
  c->swiglu = (!L->hf || L->dinov2) && find (L, name);
  g_free (name);
  if (c->swiglu)
    L->fc1 = L->hf ? "mlp.weights_in" : "mlp.w12", L->fc2 = L->hf ? "mlp.weights_out" : "mlp.w3";
  name = hf_name (L, "encoder.layer.0.mlp.gate_proj.weight");
  if (L->hf && L->dinov2 && find (L, name)) {
    c->swiglu = TRUE;
    L->fc1 = "mlp.gate_proj", L->fc1_value = "mlp.up_proj", L->fc2 = "mlp.down_proj";
  }
  g_free (name);
  /* timm's EVA (eva.py): SwiGLU with the gate and the value apart (fc1_g, fc1_x), EVA-02's
   * LayerNorm inside the MLP, the query's, key's and value's projections apart */
  if (!L->hf && find (L, "blocks.0.mlp.fc1_g.weight")) {
    c->swiglu = TRUE;
    L->fc1 = "mlp.fc1_g", L->fc1_value = "mlp.fc1_x";
  }
  c->mlp_norm = !L->hf && find (L, "blocks.0.mlp.norm.weight");
  c->attn_norm = !L->hf && find (L, "blocks.0.attn.norm.weight");
  L->split_qkv = !L->hf && find (L, "blocks.0.attn.q_proj.weight");
  g_snprintf (L->dist_token, sizeof L->dist_token, "%s%s", L->prefix,
              L->hf ? "embeddings.distillation_token" : "dist_token");
  if (!L->hf) {
    /* facebookresearch/dinov2's own checkpoints (torch.hub's .pth files) have timm's names
     * but for register_tokens, placed as transformers' are */
    L->registers_unpositioned = !find (L, "reg_token") && find (L, "register_tokens");
    g_strlcpy (L->reg_token, L->registers_unpositioned ? "register_tokens" : "reg_token",
               sizeof L->reg_token);
  } else if (L->dinov2) {
    g_snprintf (L->reg_token, sizeof L->reg_token, "%sembeddings.register_tokens", L->prefix);
    L->registers_unpositioned = TRUE;
  }

  name = L->hf ? hf_name (L, hf_or_clip (L, "embeddings.patch_embeddings.projection.weight",
                                         "embeddings.patch_embedding.weight"))
               : g_strdup ("patch_embed.proj.weight");
  e = find (L, name);
  g_free (name);
  /* SigLIP 2's NaFlex towers embed patches the processor has flattened (row, column, channel)
   * with a Linear [dim, patch x patch x 3]: the same map as a convolution, reordered at load */
  guint64 linear_side =
      e->ndim == 2 && e->shape[1] % 3 == 0 ? (guint64) sqrt (e->shape[1] / 3.0) : 0;
  L->patch_linear = L->siglip && linear_side > 0 && linear_side * linear_side * 3 == e->shape[1] &&
                    linear_side <= 1024 && e->shape[0] > 0 && e->shape[0] <= 65536;
  if (!L->patch_linear && (e->ndim != 4 || e->shape[2] != e->shape[3] || e->shape[0] == 0 ||
                           e->shape[2] == 0 || e->shape[0] > 65536 || e->shape[2] > 1024))
    return model_error (error, L, "patch embedding weight must be [dim, channels, patch, patch]");
  if (!L->patch_linear && e->shape[1] != 3)
    return model_error (error, L,
                        "patch embedding takes %" G_GUINT64_FORMAT " channels; heed "
                        "models take 3 (RGB)",
                        e->shape[1]);
  c->dim = (guint) e->shape[0];
  c->in_chans = 3;
  c->patch_size = (guint) (L->patch_linear ? linear_side : e->shape[2]);

  /* BEiT: a relative position bias table in each block, or one shared by all, learnt for a
   * W x W grid: [(2W - 1)^2 + 3, heads] */
  char rel_name[192];
  rel_bias_name (L, 0, "relative_position_bias_table", rel_name, sizeof rel_name);
  TensorEntry *rel = find (L, rel_name);
  if (!rel) {
    L->rel_shared = TRUE;
    rel_bias_name (L, 0, "relative_position_bias_table", rel_name, sizeof rel_name);
    rel = find (L, rel_name);
    L->rel_shared = rel != NULL;
  }
  c->rel_pos_bias = rel != NULL;
  guint rel_grid = 0;
  if (rel) {
    guint64 rows = rel->ndim == 2 && rel->shape[0] > 3 ? rel->shape[0] - 3 : 0;
    guint64 side = (guint64) sqrt ((double) rows);
    if (rows == 0 || side * side != rows || side % 2 == 0 || side > 2047 || rel->shape[1] == 0 ||
        rel->shape[1] > 4096)
      return model_error (error, L,
                          "'%s' must be [(2W - 1)^2 + 3, heads], BEiT's table for a W x W grid of "
                          "patches",
                          rel_name);
    rel_grid = (guint) (side + 1) / 2;
  }

  name = L->hf ? hf_name (L, hf_or_clip (L, "embeddings.position_embeddings",
                                         "embeddings.position_embedding.weight"))
               : g_strdup ("pos_embed");
  e = find (L, name);
  g_free (name);
  /* BEiT's usual layout: the bias is the only position; DINOv3's, RoPE-ViT's and the SBB
   * ViTs': the rotary embedding */
  L->no_pos_embed = !e && (rel || c->rope);
  /* [1, tokens, D]; CLIP's is an nn.Embedding, [tokens, D] */
  guint pos_dims = L->clip ? 2 : 3;
  if (!L->no_pos_embed && (!e || e->ndim != pos_dims || (pos_dims == 3 && e->shape[0] != 1) ||
                           e->shape[pos_dims - 1] != c->dim || e->shape[pos_dims - 2] < 2))
    return model_error (error, L, "position embedding must be [%stokens, %u]",
                        pos_dims == 3 ? "1, " : "", c->dim);
  /* timm's average pooling: the mean patch token through fc_norm; or, with fc_norm=False, the
   * final norm on every token, then their mean. A model without a class token pools so (timm
   * pools by the class token only where there is one); one with a class token says so in
   * config.json's global_pool. */
  const char *pool = json_str (L->config, "global_pool");
  /* timm's Eva pools so by default, and DINOv3's and the Perception Encoder's lang and spatial
   * models have no fc_norm to say it */
  if (!pool && arch &&
      (strstr (arch, "dinov3") || g_str_has_prefix (arch, "vit_pe_lang_") ||
       g_str_has_prefix (arch, "vit_pe_spatial_")))
    pool = "avg";
  gboolean fc_norm = find (L, "fc_norm.weight") != NULL, norm = find (L, "norm.weight") != NULL;
  /* timm's attention pooling (global_pool="map"): attn_pool after the final norm */
  name = hf_name (L, "head.probe");
  c->map_pool = (!L->hf && find (L, "attn_pool.latent")) || (L->siglip && find (L, name));
  g_free (name);
  /* transformers' BEiT with use_mean_pooling: its pooler's norm on the mean patch token */
  name = hf_name (L, "pooler.layernorm.weight");
  L->beit_pooler = L->hf && find (L, name);
  g_free (name);
  c->avg_pool = (!L->hf && !c->map_pool &&
                 ((fc_norm && !norm) ||
                  (norm && !fc_norm &&
                   (g_strcmp0 (pool, "avg") == 0 || (!pool && !find (L, "cls_token")))))) ||
                /* SiglipForImageClassification's, I-JEPA's */
                (L->no_class_token && !c->map_pool) || L->beit_pooler;
  /* timm's average pooling with no norm at all (the Perception Encoder's lang and spatial
   * models: use_post_transformer_norm and use_fc_norm off): the mean patch token as it is */
  if (!L->hf && !c->map_pool && !fc_norm && !norm && g_strcmp0 (pool, "avg") == 0)
    c->avg_pool = c->pool_without_norm = TRUE;
  /* timm's class-token models without a final norm (final_norm=False: InternViT-300M's port,
   * vit_intern300m_*): the class token as the last block leaves it. Only where the architecture
   * or model_args says so: elsewhere a missing norm is a damaged file */
  static const char *const no_final_norm[] = { "vit_intern300m_" };
  if (!L->hf && !c->map_pool && !c->avg_pool && !fc_norm && !norm && find (L, "cls_token") &&
      (arch_in (arch, no_final_norm, G_N_ELEMENTS (no_final_norm)) ||
       !json_bool (margs, "final_norm", TRUE)))
    c->pool_without_norm = TRUE;
  c->pool_after_norm = c->avg_pool && (norm || L->no_class_token);
  if (!L->hf && !c->avg_pool && !c->map_pool && !find (L, "cls_token"))
    return model_error (error, L,
                        "tensor 'cls_token' is missing, and no fc_norm, final norm or attn_pool "
                        "to pool the patches");
  /* what config.json says the pooling is must be what the tensors give */
  const char *pooling = c->map_pool ? "map" : c->avg_pool ? "avg" : "token";
  if (!L->hf && pool && *pool && strcmp (pool, pooling) != 0)
    return model_error (error, L,
                        "config.json global_pool \"%s\" does not match the tensors, which pool "
                        "by %s: heed pools by the class token (token), by the mean patch token "
                        "after fc_norm or the final norm (avg) or by attention (map)",
                        pool, pooling);
  /* the prefix: the class token, then the distillation token or the register tokens [1, R, D] */
  c->num_prefix = (L->hf && !L->no_class_token) || find (L, "cls_token") ? 1 : 0;
  TensorEntry *dist = find (L, L->dist_token), *reg = find (L, L->reg_token);
  if (dist)
    c->num_prefix++;
  if (reg) {
    if (reg->ndim != 3 || reg->shape[0] != 1 || reg->shape[2] != c->dim || reg->shape[1] == 0 ||
        reg->shape[1] > 64)
      return model_error (error, L, "%s must be [1, registers, %u]", L->reg_token, c->dim);
    c->num_registers = (guint) reg->shape[1];
    c->num_prefix += c->num_registers;
  }
  name = head_name (L, TRUE, "weight");
  c->distilled = dist && find (L, name);
  g_free (name);
  /* QuickGELU (OpenAI's CLIP): where the checkpoint says so, in __metadata__ act_layer, timm's
   * config.json model_args.act_layer or its architecture name (*_quickgelu_*), or
   * transformers' hidden_act */
  const char *act = meta_string (L, "act_layer");
  if (!act)
    act = json_str (margs, "act_layer");
  if (!act)
    act = json_str (L->config, "hidden_act");
  c->quick_gelu = g_strcmp0 (act, "quick_gelu") == 0 || (arch && strstr (arch, "quickgelu")) ||
                  (L->clip && !L->siglip && !act); /* transformers' CLIPVisionConfig's default */
  c->gelu_tanh = L->siglip && !act;                /* SiglipVisionConfig's default */
  /* the activations heed computes: GELU (erf), QuickGELU and GELU's tanh approximation, by
   * the names timm and transformers give it; any other would run wrong */
  static const char *const tanh_gelu[] = { "gelu_tanh", "gelu_new", "gelu_pytorch_tanh",
                                           "gelu_fast" };
  for (guint i = 0; act && i < G_N_ELEMENTS (tanh_gelu); i++)
    c->gelu_tanh |= strcmp (act, tanh_gelu[i]) == 0;
  /* timm's SigLIP 2 towers set act_layer="gelu_tanh" in their definitions, which config.json
   * does not repeat (timm's vision_transformer.py) */
  static const char *const tanh_archs[] = {
    "vit_base_patch32_siglip_256",     "vit_large_patch16_siglip_512",
    "vit_so400m_patch16_siglip_",      "vit_giantopt_patch16_siglip_",
    "vit_base_patch32_siglip_gap_256", "vit_large_patch16_siglip_gap_512",
  };
  c->gelu_tanh |= !act && arch_in (arch, tanh_archs, G_N_ELEMENTS (tanh_archs));
  /* SiLU: the gate of a SwiGLU MLP, checked once the MLP's shape is known */
  gboolean silu = g_strcmp0 (act, "silu") == 0 || g_strcmp0 (act, "swish") == 0;
  if (act && !silu && !c->gelu_tanh && strcmp (act, "gelu") != 0 && strcmp (act, "quick_gelu") != 0)
    return model_error (error, L,
                        "activation \"%s\": heed runs GELU, its tanh approximation and QuickGELU "
                        "in the MLP, not this",
                        act);
  if ((arch && strstr (arch, "_rpn_")) || g_str_has_prefix (arch ? arch : "", "eva02_enormous_") ||
      json_bool (margs, "use_post_norm", FALSE))
    return model_error (error, L,
                        "architecture %s has residual post-norm blocks (timm's ResPostBlock, "
                        "EvaBlockPostNorm), which heed does not run",
                        arch ? arch : "(model_args.use_post_norm)");
  /* EVA's own tensors with nothing that says whether the rotary embedding is there */
  if (!c->rope && !arch && !L->renamed_from && !(margs && member (margs, "use_rot_pos_emb")) &&
      (L->split_qkv || c->mlp_norm || c->attn_norm || (L->fc1_value && !L->hf)))
    return model_error (error, L,
                        "timm's EVA layout (q_proj, mlp.fc1_g or mlp.norm) without the "
                        "config.json timm ships beside it: whether the model turns its queries "
                        "and keys by EVA-02's rotary position embedding is not in the weights");
  /* pos_embed covers the prefix and the patches (timm's default), or the patches alone
   * (no_embed_class: DeiT III, register models), or in transformers' DINOv2 with registers the
   * class token and the patches */
  guint64 pos_len = L->no_pos_embed ? 0 : e->shape[pos_dims - 2];
  guint side = 0;
  if (L->no_pos_embed && !rel && !config_image_side (L, c->patch_size, &side, error))
    return FALSE;
  if (L->no_pos_embed)
    c->num_patches = rel ? rel_grid * rel_grid : side * side;
  else if (L->registers_unpositioned && reg) {
    if (!is_square (pos_len - 1) || pos_len - 1 > 1u << 20)
      return model_error (error, L,
                          "position embedding has %" G_GUINT64_FORMAT
                          " tokens: not the class token and a square grid of patches",
                          pos_len);
    c->num_patches = (guint) (pos_len - 1);
  } else if (pos_len > c->num_prefix && is_square (pos_len - c->num_prefix))
    c->num_patches = (guint) (pos_len - c->num_prefix);
  else if (is_square (pos_len) && pos_len <= 1u << 20)
    c->num_patches = (guint) pos_len;
  else
    return model_error (error, L,
                        "position embedding has %" G_GUINT64_FORMAT " tokens: neither %u prefix "
                        "tokens and a square grid of patches nor a square grid alone",
                        pos_len, c->num_prefix);
  c->tokens = c->num_prefix + c->num_patches;
  c->grid = (guint) sqrt ((double) c->num_patches);
  while (c->grid * c->grid < c->num_patches)
    c->grid++;
  if (L->rope_ref_native)
    c->rope_ref_grid = c->grid;
  if (c->grid > 1024)
    return model_error (error, L, "a grid of %u x %u patches is too large", c->grid, c->grid);
  if (rel && (c->grid != rel_grid || c->num_prefix != 1))
    return model_error (error, L,
                        "'%s' is BEiT's table for %u x %u patches and a class token, but the model "
                        "has %u x %u patches and %u prefix tokens",
                        rel_name, rel_grid, rel_grid, c->grid, c->grid, c->num_prefix);
  c->img_size = c->grid * c->patch_size;
  guint img = c->img_size, patch = c->patch_size;
  if (!meta_uint (L, "img_size", &img, error) || !meta_uint (L, "patch_size", &patch, error))
    return FALSE;
  if (img != c->img_size || patch != c->patch_size)
    return model_error (error, L,
                        "__metadata__ img_size %u / patch_size %u disagree with the "
                        "weights (patch %u, %u x %u patches)",
                        img, patch, c->patch_size, c->grid, c->grid);

  for (c->depth = 0;; c->depth++) {
    char *n = L->hf ? hf_block_full_name (L, c->depth, "norm1.weight", "layernorm_before.weight")
                    : g_strdup_printf ("blocks.%u.norm1.weight", c->depth);
    gboolean has = find (L, n) != NULL;
    g_free (n);
    if (!has)
      break;
    if (c->depth >= 1000)
      return model_error (error, L, "too many blocks");
  }
  if (c->depth == 0)
    return model_error (error, L, "no transformer blocks found");

  char fc1[64], fc2[64];
  g_snprintf (fc1, sizeof fc1, "%s.weight", L->fc1);
  g_snprintf (fc2, sizeof fc2, "%s.weight", L->fc2);
  name = L->hf ? hf_block_full_name (L, 0, fc1, "intermediate.dense.weight")
               : g_strdup_printf ("blocks.0.%s", fc1);
  e = find (L, name);
  if (!e || e->ndim != 2 || e->shape[1] != c->dim || e->shape[0] == 0 || e->shape[0] > 1u << 20 ||
      (c->swiglu && !L->fc1_value && e->shape[0] % 2)) {
    model_error (error, L, "'%s' must be [%shidden, %u]", name, c->swiglu ? "2 x " : "", c->dim);
    g_free (name);
    return FALSE;
  }
  g_free (name);
  /* timm's SwiGLU (SwiGLUPacked, DINOv2 giant's): fc1 gives the gate and the value, twice the
   * width fc2 reads; by its activation (SiLU) or the architectures that use it */
  TensorEntry *fc2_e = NULL;
  if (!L->hf && !c->swiglu) {
    char *n2 = g_strdup_printf ("blocks.0.%s", fc2);
    fc2_e = find (L, n2);
    g_free (n2);
  }
  gboolean gated = fc2_e && fc2_e->ndim == 2 && e->shape[0] == 2 * fc2_e->shape[1];
  static const char *const swiglu_archs[] = { "vit_giant_patch14_dinov2",
                                              "vit_giant_patch14_reg4_dinov2", "eva02_" };
  if (gated && !silu && !arch_in (arch, swiglu_archs, G_N_ELEMENTS (swiglu_archs)))
    return model_error (error, L,
                        "a gated MLP (fc1 twice as wide as fc2 reads) whose activation the config "
                        "does not name: heed runs it as SwiGLU where model_args.act_layer is "
                        "\"silu\" or the architecture is DINOv2 giant's or EVA-02's");
  c->swiglu |= gated;
  if (silu && !c->swiglu)
    return model_error (error, L,
                        "activation \"%s\": heed runs SiLU only as the gate of a SwiGLU MLP", act);
  /* transformers' gated MLP (DINOv3's LlamaMLP) gates by hidden_act, which heed runs as SiLU */
  if (L->hf_dinov3 && c->swiglu && !silu)
    return model_error (error, L,
                        "a gated MLP whose gate is \"%s\" (hidden_act): heed gates by SiLU",
                        act ? act : "gelu");
  if (c->swiglu && c->map_pool)
    return model_error (error, L, "a SwiGLU MLP with attention pooling is not supported");
  c->mlp_hidden = (guint) e->shape[0] / (c->swiglu && !L->fc1_value ? 2 : 1);
  if (c->swiglu) /* the MLP has no other activation; transformers' hidden_act is unused */
    c->quick_gelu = c->gelu_tanh = FALSE;

  /* Heads: __metadata__, then config.json (transformers' num_attention_heads, timm's
   * model_args or its architecture's name), then timm's dim/64 convention. */
  c->num_heads = 0;
  if (!meta_uint (L, "num_heads", &c->num_heads, error))
    return FALSE;
  if (!c->num_heads && !config_uint (L, "num_heads", &c->num_heads))
    config_uint (L, "num_attention_heads", &c->num_heads);
  guint64 v;
  if (!c->num_heads && json_uint (member (margs, "num_heads"), &v) && v > 0 && v <= 4096)
    c->num_heads = (guint) v;
  if (!c->num_heads && rel) /* BEiT's table has a column per head */
    c->num_heads = (guint) rel->shape[1];
  if (!c->num_heads)
    c->num_heads = timm_architecture_heads (arch);
  if (!c->num_heads) {
    if (c->dim % 64)
      return model_error (error, L,
                          "dim %u is not a multiple of 64: give num_heads in "
                          "__metadata__ or config.json",
                          c->dim);
    c->num_heads = c->dim / 64;
  }
  if (c->dim % c->num_heads)
    return model_error (error, L, "num_heads %u does not divide dim %u", c->num_heads, c->dim);
  if (rel && rel->shape[1] != c->num_heads)
    return model_error (error, L, "'%s' has %" G_GUINT64_FORMAT " heads, the config %u", rel_name,
                        rel->shape[1], c->num_heads);
  /* the bias is held as heads x tokens x tokens floats a block (BEiT-Large at 512 px: 1.6 GB
   * in all); a small file must not ask for more than a machine has */
  double bias_bytes = (double) c->depth * c->num_heads * c->tokens * c->tokens * 4;
  if (rel && bias_bytes > HEED_MAX_BIAS_BYTES)
    return model_error (error, L,
                        "its relative position bias would take %.1f GB (%u blocks of %u heads x "
                        "%u x %u tokens), more than heed's limit of %.0f GB",
                        bias_bytes / 1e9, c->depth, c->num_heads, c->tokens, c->tokens,
                        HEED_MAX_BIAS_BYTES / 1e9);
  c->head_dim = c->dim / c->num_heads;
  /* attention pooling's heads: timm's attn_pool_num_heads, the Perception Encoder's 8 */
  guint64 pool_heads = arch && g_str_has_prefix (arch, "vit_pe_core_") ? 8 : c->num_heads;
  JsonNode *pool_heads_node = member (margs, "attn_pool_num_heads");
  if (pool_heads_node && !JSON_NODE_HOLDS_NULL (pool_heads_node) &&
      !json_uint (pool_heads_node, &pool_heads))
    pool_heads = 0;
  c->pool_heads = c->num_heads;
  if (c->map_pool) {
    if (pool_heads == 0 || pool_heads > c->dim || c->dim % pool_heads)
      return model_error (error, L,
                          "attention pooling's %" G_GUINT64_FORMAT
                          " heads (model_args.attn_pool_num_heads) do not divide dim %u",
                          pool_heads, c->dim);
    c->pool_heads = (guint) pool_heads;
  }
  /* RoPE-Mixed's frequencies: the column's and the row's for each block, head and pair */
  TensorEntry *freqs = c->rope_mixed ? find (L, "rope.freqs") : NULL;
  if (freqs && (freqs->ndim != 4 || freqs->shape[0] != 2 || freqs->shape[1] != c->depth ||
                freqs->shape[2] != c->num_heads || freqs->shape[3] != c->head_dim / 2))
    return model_error (error, L, "tensor 'rope.freqs' must be [2, %u, %u, %u] (RoPE-Mixed's)",
                        c->depth, c->num_heads, c->head_dim / 2);
  /* a quarter of a head's channels turn by each band of the row's and the column's angles */
  if (c->rope && c->head_dim % 4)
    return model_error (error, L,
                        "heads of %u channels: a rotary position embedding (EVA-02's, DINOv3's) "
                        "needs a multiple of 4",
                        c->head_dim);

  name = head_name (L, FALSE, "weight");
  e = find (L, name);
  g_free (name);
  c->num_classes = 0;
  if (e) {
    /* transformers' CLIPForImageClassification: its classifier on the mean patch token of
     * the last block's output, no norm (post_layernorm is the class token's, unused) */
    if (L->clip && !L->siglip)
      c->avg_pool = c->pool_without_norm = TRUE;
    /* Dinov2ForImageClassification's reads [class token; mean patch token] */
    c->patch_mean_head = L->dinov2 && e->ndim == 2 && e->shape[1] == 2 * (guint64) c->dim;
    if (e->ndim != 2 || e->shape[1] != (c->patch_mean_head ? 2 : 1) * (guint64) c->dim ||
        e->shape[0] > 1u << 20)
      return model_error (error, L, "classification head must be [classes, %u]", c->dim);
    c->num_classes = (guint) e->shape[0];
  }

  /* CLIPVisionConfig's, timm's, SigLIP's; timm's CLIP towers (vit_*_clip_*) set 1e-5 too,
   * its EVA CLIP towers (eva*_clip_*) not */
  /* DINOv3's (timm's vit_*_dinov3, transformers' DINOv3ViTConfig) too */
  c->ln_eps =
      (L->clip && !L->siglip) ||
              (!L->hf && arch && strstr (arch, "_clip_") && !g_str_has_prefix (arch, "eva")) ||
              (arch && (strstr (arch, "dinov3") || g_str_has_prefix (arch, "vit_pe_"))) ||
              L->hf_dinov3 || c->rms_norm /* timm's aimv2_*, Apple's and transformers' */
          ? 1e-5f
          : 1e-6f;
  const char *eps_key = c->rms_norm ? "rms_norm_eps" : "layer_norm_eps";
  if (L->config && json_object_has_member (L->config, eps_key)) {
    JsonNode *n = json_object_get_member (L->config, eps_key);
    if (JSON_NODE_HOLDS_VALUE (n) && (json_node_get_value_type (n) == G_TYPE_DOUBLE ||
                                      json_node_get_value_type (n) == G_TYPE_INT64))
      c->ln_eps = (float) json_node_get_double (n);
  }
  return read_preprocess (L, c, error) && read_labels (L, c, error);
}

/* Concatenates separate query/key/value projections (transformers', timm's EVA's) into timm's
 * fused qkv; a bias that is not there (EVA's key's) is zero. */
static float *
take_split_qkv (const Loader *L, guint layer, const char *what, guint D, gboolean bias,
                GError **error)
{
  const char *parts[3] = { "query", "key", "value" }, *short_parts[3] = { "q", "k", "v" };
  guint64 shape[2] = { D, D };
  gsize n = bias ? D : (gsize) D * D;
  float *out = g_new (float, 3 * n);
  for (guint i = 0; i < 3; i++) {
    char *name = !L->hf ? g_strdup_printf ("blocks.%u.attn.%s_proj.%s", layer, short_parts[i], what)
                 : L->clip ? g_strdup_printf ("%sencoder.layers.%u.self_attn.%s_proj.%s", L->prefix,
                                              layer, short_parts[i], what)
                           : g_strdup_printf ("%sencoder.layer.%u.attention.attention.%s.%s",
                                              L->prefix, layer, parts[i], what);
    float *t = bias ? take_or_zero (L, name, D, error) : take (L, name, 2, shape, error);
    g_free (name);
    if (!t) {
      g_free (out);
      return NULL;
    }
    memcpy (out + i * n, t, n * sizeof (float));
    g_free (t);
  }
  return out;
}

/* The prefix after the class token: the distillation token, then the register tokens' rows. */
static gboolean
read_prefix (const Loader *L, HeedModel *m, GError **error)
{
  const HeedModelConfig *c = &m->config;
  guint64 D = c->dim, s_d[1] = { D };
  float *prefix = g_new0 (float, (gsize) c->num_prefix *D), *t;
  /* average-pooled timm ViTs may have no class token; transformers' always have one */
  guint row = (L->hf && !L->no_class_token) || find (L, "cls_token") ? 1 : 0;
  if (row)
    memcpy (prefix, m->cls_token, D * sizeof (float));
  if (find (L, L->dist_token)) {
    if (!(t = take (L, L->dist_token, 1, s_d, error)))
      goto fail;
    memcpy (prefix + row++ * D, t, D * sizeof (float));
    g_free (t);
  }
  if (find (L, L->reg_token)) {
    guint64 s_reg[2] = { c->num_prefix - row, D };
    if (!(t = take (L, L->reg_token, 2, s_reg, error)))
      goto fail;
    memcpy (prefix + row * D, t, s_reg[0] * D * sizeof (float));
    g_free (t);
  }
  g_free (m->cls_token);
  m->cls_token = prefix;
  return TRUE;
fail:
  g_free (prefix);
  return FALSE;
}

/* LayerScale (timm's blocks.N.ls1/ls2.gamma, transformers' DINOv2's
 * encoder.layer.N.layer_scale1/2.lambda1; which is 1 or 2): x + gamma * (W y + b) is
 * x + (gamma W) y + gamma b, so the scale folds into the rows of the layer before it. */
static gboolean
fold_layer_scale (const Loader *L, guint layer, guint which, float *w, float *b, guint64 out,
                  guint64 in, GError **error)
{
  char name[96];
  if (L->hf)
    g_snprintf (name, sizeof name, "%sencoder.layer.%u.layer_scale%u.lambda1", L->prefix, layer,
                which);
  else
    g_snprintf (name, sizeof name, "blocks.%u.ls%u.gamma", layer, which);
  if (!find (L, name)) { /* BEiT's: timm's gamma_1/2, transformers' lambda_1/2 */
    if (L->hf)
      g_snprintf (name, sizeof name, "%sencoder.layer.%u.lambda_%u", L->prefix, layer, which);
    else
      g_snprintf (name, sizeof name, "blocks.%u.gamma_%u", layer, which);
  }
  if (!find (L, name))
    return TRUE;
  float *gamma = take (L, name, 1, &out, error);
  if (!gamma)
    return FALSE;
  for (guint64 o = 0; o < out; o++) {
    for (guint64 i = 0; i < in; i++)
      w[o * in + i] *= gamma[o];
    b[o] *= gamma[o];
  }
  g_free (gamma);
  return TRUE;
}

/* A classification head (dist: the distillation token's), its bias zeros where it has none */
static gboolean
take_head (const Loader *L, gboolean dist, const guint64 *shape, float **w, float **b,
           GError **error)
{
  char *w_name = head_name (L, dist, "weight"), *b_name = head_name (L, dist, "bias");
  *w = take (L, w_name, 2, shape, error);
  *b = *w ? take_or_zero (L, b_name, shape[0], error) : NULL;
  g_free (w_name);
  g_free (b_name);
  return *b != NULL;
}

/* Attention pooling's tensor: timm's AttentionPoolLatent (attn_pool.*) or transformers'
 * SigLIP head (vision_model.head.*, under the tower's prefix), by their own names */
static float *
take_pool (const Loader *L, const char *timm, const char *hf, guint ndim, const guint64 *shape,
           gboolean or_zero, GError **error)
{
  char *name = L->siglip ? g_strconcat (L->prefix, "head.", hf, NULL)
                         : g_strconcat ("attn_pool.", timm, NULL);
  float *t = or_zero ? take_or_zero (L, name, shape[0], error) : take (L, name, ndim, shape, error);
  g_free (name);
  return t;
}

/* Attention pooling as one more block (HeedModel's map_head): the learnt query's projection is
 * the same for every frame, so it becomes the query bias of a qkv whose query rows are zero,
 * and the attention's query row 0 is the pool's query */
static gboolean
read_map_head (const Loader *L, HeedModel *m, GError **error)
{
  const HeedModelConfig *c = &m->config;
  guint64 D = c->dim, Hd = c->mlp_hidden;
  guint64 s_d[1] = { D }, s_dd[2] = { D, D }, s_kv[2] = { 2 * D, D }, s_qkv[2] = { 3 * D, D };
  guint64 s_fc1[2] = { Hd, D }, s_fc2[2] = { D, Hd }, s_hd[1] = { Hd }, s_3d[1] = { 3 * D };
  guint64 s_2d[1] = { 2 * D };
  HeedBlockWeights *b = m->map_head = g_new0 (HeedBlockWeights, 1);
  float *latent = NULL, *q_w = NULL, *q_b = NULL, *kv_w = NULL, *kv_b = NULL;
  gboolean ok;
  if (L->siglip) { /* nn.MultiheadAttention's in_proj: q, k and v rows in one */
    float *in_w = NULL, *in_b = NULL;
    ok = (latent = take_pool (L, "", "probe", 1, s_d, FALSE, error)) &&
         (in_w = take_pool (L, "", "attention.in_proj_weight", 2, s_qkv, FALSE, error)) &&
         (in_b = take_pool (L, "", "attention.in_proj_bias", 1, s_3d, TRUE, error));
    if (ok) {
      q_w = g_memdup2 (in_w, D * D * sizeof (float));
      kv_w = g_memdup2 (in_w + D * D, 2 * D * D * sizeof (float));
      q_b = g_memdup2 (in_b, D * sizeof (float));
      kv_b = g_memdup2 (in_b + D, 2 * D * sizeof (float));
    }
    g_free (in_w), g_free (in_b);
  } else {
    ok = (latent = take_pool (L, "latent", "", 1, s_d, FALSE, error)) &&
         (q_w = take_pool (L, "q.weight", "", 2, s_dd, FALSE, error)) &&
         (q_b = take_pool (L, "q.bias", "", 1, s_d, TRUE, error)) &&
         (kv_w = take_pool (L, "kv.weight", "", 2, s_kv, FALSE, error)) &&
         (kv_b = take_pool (L, "kv.bias", "", 1, s_2d, TRUE, error));
  }
  ok = ok &&
       (b->proj_w =
            take_pool (L, "proj.weight", "attention.out_proj.weight", 2, s_dd, FALSE, error)) &&
       (b->proj_b = take_pool (L, "proj.bias", "attention.out_proj.bias", 1, s_d, TRUE, error)) &&
       (b->norm2_w = take_pool (L, "norm.weight", "layernorm.weight", 1, s_d, FALSE, error)) &&
       (b->norm2_b = take_pool (L, "norm.bias", "layernorm.bias", 1, s_d, FALSE, error)) &&
       (b->fc1_w = take_pool (L, "mlp.fc1.weight", "mlp.fc1.weight", 2, s_fc1, FALSE, error)) &&
       (b->fc1_b = take_pool (L, "mlp.fc1.bias", "mlp.fc1.bias", 1, s_hd, FALSE, error)) &&
       (b->fc2_w = take_pool (L, "mlp.fc2.weight", "mlp.fc2.weight", 2, s_fc2, FALSE, error)) &&
       (b->fc2_b = take_pool (L, "mlp.fc2.bias", "mlp.fc2.bias", 1, s_d, FALSE, error));
  if (ok) {
    b->norm1_w = g_memdup2 (m->norm_w, D * sizeof (float));
    b->norm1_b = g_memdup2 (m->norm_b, D * sizeof (float));
    b->qkv_w = g_new0 (float, 3 * D * D);
    memcpy (b->qkv_w + D * D, kv_w, 2 * D * D * sizeof (float));
    b->qkv_b = g_new (float, 3 * D);
    for (guint64 i = 0; i < D; i++) {
      double sum = q_b[i];
      for (guint64 j = 0; j < D; j++)
        sum += (double) q_w[i * D + j] * latent[j];
      b->qkv_b[i] = (float) sum;
    }
    memcpy (b->qkv_b + D, kv_b, 2 * D * sizeof (float));
  }
  g_free (latent), g_free (q_w), g_free (q_b), g_free (kv_w), g_free (kv_b);
  return ok;
}

/* DINOv3 turns channel j of a head's query and key with channel j + head_dim / 2 (timm's and
 * transformers' rotate_half); heed's kernel turns neighbours (2j, 2j + 1). Q.K^T is the same
 * when the query's and the key's channels are reordered alike, so their rows are interleaved
 * here, and the rotation pairs what DINOv3 pairs. */
static void
interleave_rope_halves (float *w, float *b, const HeedModelConfig *c)
{
  guint D = c->dim, hd = c->head_dim;
  float *rows = g_new (float, (gsize) hd *D), *bias = g_new (float, hd);
  for (guint part = 0; part < 2; part++) /* the query's rows, then the key's */
    for (guint h = 0; h < c->num_heads; h++) {
      gsize first = (gsize) part * D + (gsize) h * hd;
      for (guint j = 0; j < hd; j++) {
        gsize from = first + (j % 2 ? hd / 2 : 0) + j / 2;
        memcpy (rows + (gsize) j * D, w + from * D, D * sizeof (float));
        bias[j] = b[from];
      }
      memcpy (w + first * D, rows, (gsize) hd * D * sizeof (float));
      memcpy (b + first, bias, hd * sizeof (float));
    }
  g_free (rows);
  g_free (bias);
}

static gboolean
read_weights (const Loader *L, HeedModel *m, GError **error)
{
  const HeedModelConfig *c = &m->config;
  guint64 D = c->dim, Hd = c->mlp_hidden, T = c->tokens, p = c->patch_size;
  guint64 W1 = heed_fc1_width (c); /* fc1's outputs: SwiGLU's are twice what fc2 reads */
  guint64 s_d[1] = { D }, s_pos[2] = { T, D }, s_patch[4] = { D, 3, p, p };
  guint64 s_qkv[2] = { 3 * D, D }, s_dd[2] = { D, D }, s_fc1[2] = { W1, D }, s_fc2[2] = { D, Hd };
  guint64 s_head[2] = { c->num_classes, D };
  const char *pre = L->prefix;

/* dst = `taking`, which reads the tensor's name in the layout's names as n_ */
#define TAKE_AS(dst, timm_name, hf_suffix, taking)                                                 \
  do {                                                                                             \
    char *n_ = L->hf ? g_strdup_printf ("%s%s", pre, hf_suffix) : g_strdup (timm_name);            \
    dst = taking;                                                                                  \
    g_free (n_);                                                                                   \
    if (!dst)                                                                                      \
      return FALSE;                                                                                \
  } while (0)
#define TAKE(dst, timm_name, hf_suffix, nd, shape)                                                 \
  TAKE_AS (dst, timm_name, hf_suffix, take (L, n_, nd, shape, error))
#define TAKE_BIAS(dst, timm_name, hf_suffix, n)                                                    \
  TAKE_AS (dst, timm_name, hf_suffix, take_bias (L, c, n_, n, error))

  if (c->num_prefix == 0 || (!L->hf && !find (L, "cls_token")))
    m->cls_token = g_new0 (float, D); /* no class token: nothing before the registers */
  else
    TAKE (m->cls_token, "cls_token",
          hf_or_clip (L, "embeddings.cls_token", "embeddings.class_embedding"), 1, s_d);
  /* dist and register tokens after the class token (or from row 0 without one) */
  if ((find (L, L->dist_token) || find (L, L->reg_token)) && !read_prefix (L, m, error))
    return FALSE;
  if (L->no_pos_embed) {
    m->pos_embed = g_new0 (float, T *D); /* BEiT: positions only in the attention's bias */
  } else if (L->registers_unpositioned && c->num_prefix > 1) {
    /* DINOv2's registers: the class token's position, none for the registers (zero rows),
     * then the patches' */
    guint64 s_cls_patches[2] = { 1 + c->num_patches, D };
    float *pos;
    TAKE (pos, "pos_embed", "embeddings.position_embeddings", 2, s_cls_patches);
    m->pos_embed = g_new0 (float, T *D);
    memcpy (m->pos_embed, pos, D * sizeof (float));
    memcpy (m->pos_embed + (gsize) c->num_prefix * D, pos + D,
            (gsize) c->num_patches * D * sizeof (float));
    g_free (pos);
  } else if (!L->hf && c->tokens != find (L, "pos_embed")->shape[1]) {
    /* no position for the prefix tokens: zero rows, so every token adds a position */
    guint64 s_patches[2] = { c->num_patches, D };
    float *patches_pos;
    TAKE (patches_pos, "pos_embed", "", 2, s_patches);
    m->pos_embed = g_new0 (float, T *D);
    memcpy (m->pos_embed + (gsize) c->num_prefix * D, patches_pos,
            (gsize) c->num_patches * D * sizeof (float));
    g_free (patches_pos);
  } else {
    TAKE (m->pos_embed, "pos_embed",
          hf_or_clip (L, "embeddings.position_embeddings", "embeddings.position_embedding.weight"),
          2, s_pos);
  }
  if (L->patch_linear) { /* [D][(y p + x) 3 + channel] to [D][channel][y][x] */
    guint64 s_linear[2] = { D, 3 * p * p };
    float *w;
    TAKE (w, "", "embeddings.patch_embedding.weight", 2, s_linear);
    m->patch_w = g_new (float, D * 3 * p * p);
    for (guint64 o = 0; o < D; o++)
      for (guint64 ch = 0; ch < 3; ch++)
        for (guint64 yx = 0; yx < p * p; yx++)
          m->patch_w[(o * 3 + ch) * p * p + yx] = w[o * 3 * p * p + yx * 3 + ch];
    g_free (w);
    /* and its position embedding goes to another grid as transformers' Siglip2 resizes it */
    m->pos_resample_bilinear = TRUE;
  } else {
    TAKE (m->patch_w, "patch_embed.proj.weight",
          hf_or_clip (L, "embeddings.patch_embeddings.projection.weight",
                      "embeddings.patch_embedding.weight"),
          4, s_patch);
  }
  if ((!L->hf && !find (L, "patch_embed.proj.bias")) || (L->clip && !L->siglip))
    m->patch_b = g_new0 (float, D); /* CLIP towers have none */
  else
    TAKE (m->patch_b, "patch_embed.proj.bias",
          hf_or_clip (L, "embeddings.patch_embeddings.projection.bias",
                      "embeddings.patch_embedding.bias"),
          1, s_d);
  if ((!L->hf && find (L, "norm_pre.weight")) || (L->clip && !L->siglip)) {
    char pre_w[32], pre_b[32];
    g_snprintf (pre_w, sizeof pre_w, "%s.weight", L->pre_norm);
    g_snprintf (pre_b, sizeof pre_b, "%s.bias", L->pre_norm);
    TAKE (m->norm_pre_w, "norm_pre.weight", pre_w, 1, s_d);
    TAKE (m->norm_pre_b, "norm_pre.bias", pre_b, 1, s_d);
  }
  /* timm's models with no final norm and no fc_norm (the Perception Encoder's lang and spatial
   * ones) have none to take: norm_w and norm_b stay NULL */
  if (!c->pool_without_norm || L->hf) {
    TAKE (m->norm_w, c->avg_pool && !c->pool_after_norm ? "fc_norm.weight" : "norm.weight",
          L->beit_pooler ? "pooler.layernorm.weight"
                         : hf_or_clip (L, "layernorm.weight", "post_layernorm.weight"),
          1, s_d);
    TAKE_BIAS (m->norm_b, c->avg_pool && !c->pool_after_norm ? "fc_norm.bias" : "norm.bias",
               L->beit_pooler ? "pooler.layernorm.bias"
                              : hf_or_clip (L, "layernorm.bias", "post_layernorm.bias"),
               D);
  }
  /* a norm of the patch embedding's output (timm's embed_norm_layer, AIMv2's) */
  if (!L->hf && find (L, "patch_embed.norm.weight")) {
    TAKE (m->patch_norm_w, "patch_embed.norm.weight", "", 1, s_d);
    TAKE_BIAS (m->patch_norm_b, "patch_embed.norm.bias", "", D);
  }

  m->blocks = g_new0 (HeedBlockWeights, c->depth);
  for (guint l = 0; l < c->depth; l++) {
    HeedBlockWeights *b = &m->blocks[l];
    char timm[96], hf[128];
/* block l's tensor t (h in transformers' names), taken by TAKING (TAKE or TAKE_BIAS) */
#define BLOCK_AS(TAKING, dst, t, h, ...)                                                           \
  do {                                                                                             \
    g_snprintf (timm, sizeof timm, "blocks.%u.%s", l, t);                                          \
    hf_block_name (L, l, t, h, hf, sizeof hf);                                                     \
    TAKING (dst, timm, hf, __VA_ARGS__);                                                           \
  } while (0)
#define BLOCK(dst, t, h, nd, shape) BLOCK_AS (TAKE, dst, t, h, nd, shape)
#define BLOCK_BIAS(dst, t, h, n) BLOCK_AS (TAKE_BIAS, dst, t, h, n)
    BLOCK (b->norm1_w, "norm1.weight", "layernorm_before.weight", 1, s_d);
    BLOCK_BIAS (b->norm1_b, "norm1.bias", "layernorm_before.bias", D);
    BLOCK (b->proj_w, "attn.proj.weight", "attention.output.dense.weight", 2, s_dd);
    BLOCK_BIAS (b->proj_b, "attn.proj.bias", "attention.output.dense.bias", D);
    BLOCK (b->norm2_w, "norm2.weight", "layernorm_after.weight", 1, s_d);
    BLOCK_BIAS (b->norm2_b, "norm2.bias", "layernorm_after.bias", D);
    char fc[64];
    if (L->fc1_value) { /* the gate's rows, then the value's */
      guint64 s_half[2] = { Hd, D };
      float *parts[4] = { NULL };
      const char *layers[2] = { L->fc1, L->fc1_value };
      gboolean ok = TRUE;
      for (guint i = 0; i < 4 && ok; i++) {
        g_snprintf (fc, sizeof fc, "%s.%s", layers[i % 2], i < 2 ? "weight" : "bias");
        hf_block_name (L, l, fc, fc, hf, sizeof hf);
        char *full = L->hf ? hf_name (L, hf) : g_strdup_printf ("blocks.%u.%s", l, fc);
        ok = (parts[i] = i < 2 ? take (L, full, 2, s_half, error)
                               : take_bias (L, c, full, Hd, error)) != NULL;
        g_free (full);
      }
      if (!ok) {
        for (guint i = 0; i < 4; i++)
          g_free (parts[i]);
        return FALSE;
      }
      b->fc1_w = g_new (float, W1 *D);
      b->fc1_b = g_new (float, W1);
      memcpy (b->fc1_w, parts[0], Hd * D * sizeof (float));
      memcpy (b->fc1_w + Hd * D, parts[1], Hd * D * sizeof (float));
      memcpy (b->fc1_b, parts[2], Hd * sizeof (float));
      memcpy (b->fc1_b + Hd, parts[3], Hd * sizeof (float));
      for (guint i = 0; i < 4; i++)
        g_free (parts[i]);
    } else {
      g_snprintf (fc, sizeof fc, "%s.weight", L->fc1);
      BLOCK (b->fc1_w, fc, "intermediate.dense.weight", 2, s_fc1);
      g_snprintf (fc, sizeof fc, "%s.bias", L->fc1);
      BLOCK_BIAS (b->fc1_b, fc, "intermediate.dense.bias", W1);
    }
    g_snprintf (fc, sizeof fc, "%s.weight", L->fc2);
    BLOCK (b->fc2_w, fc, "output.dense.weight", 2, s_fc2);
    g_snprintf (fc, sizeof fc, "%s.bias", L->fc2);
    BLOCK_BIAS (b->fc2_b, fc, "output.dense.bias", D);
    if (c->mlp_norm) { /* EVA-02's, over the hidden layer (timm's names only) */
      BLOCK (b->mlp_norm_w, "mlp.norm.weight", "", 1, (guint64[]){ Hd });
      BLOCK (b->mlp_norm_b, "mlp.norm.bias", "", 1, (guint64[]){ Hd });
    }
    if (c->attn_norm) { /* EVA-02 CLIP's, over the attention's output */
      BLOCK (b->attn_norm_w, "attn.norm.weight", "", 1, s_d);
      BLOCK (b->attn_norm_b, "attn.norm.bias", "", 1, s_d);
    }
#undef BLOCK
#undef BLOCK_BIAS
#undef BLOCK_AS
    if (L->hf || L->split_qkv) {
      b->qkv_w = take_split_qkv (L, l, "weight", c->dim, FALSE, error);
      b->qkv_b = b->qkv_w ? take_split_qkv (L, l, "bias", c->dim, TRUE, error) : NULL;
    } else {
      g_snprintf (timm, sizeof timm, "blocks.%u.attn.qkv.weight", l);
      b->qkv_w = take (L, timm, 2, s_qkv, error);
      g_snprintf (timm, sizeof timm, "blocks.%u.attn.qkv.bias", l);
      b->qkv_b = b->qkv_w ? take_or_zero (L, timm, 3 * D, error) : NULL;
      /* BEiT's: the query's and value's biases alone, the key's zero */
      for (guint part = 0; part < 3 && b->qkv_b; part += 2) {
        g_snprintf (timm, sizeof timm, "blocks.%u.attn.%c_bias", l, part ? 'v' : 'q');
        if (!find (L, timm))
          continue;
        float *t = take (L, timm, 1, s_d, error);
        if (!t)
          return FALSE;
        memcpy (b->qkv_b + part * D, t, D * sizeof (float));
        g_free (t);
      }
    }
    if (!b->qkv_b)
      return FALSE;
    if (c->rope_dinov3)
      interleave_rope_halves (b->qkv_w, b->qkv_b, c);
    /* a table every block shares is looked up once; the tables kept, one or one a block, for
     * another input size (resampled as the checkpoint's library does: rel_tables_timm) */
    if (c->rel_pos_bias && l == 0) {
      m->rel_tables = g_new0 (float *, L->rel_shared ? 1 : c->depth);
      m->rel_table_count = L->rel_shared ? 1 : c->depth;
      m->rel_grid = c->grid;
      m->rel_tables_timm = !L->hf;
      /* interpolate_pos_encoding's, for transformers' data2vec */
      m->pos_resample_plain_bicubic = L->hf;
    }
    float **keep = m->rel_tables && l < m->rel_table_count ? &m->rel_tables[l] : NULL;
    if (c->rel_pos_bias && L->rel_shared && l > 0)
      b->attn_bias =
          g_memdup2 (m->blocks[0].attn_bias, (gsize) c->num_heads * T * T * sizeof (float));
    else if (c->rel_pos_bias && !(b->attn_bias = read_rel_bias (L, c, l, keep, error)))
      return FALSE;
    if (!fold_layer_scale (L, l, 1, b->proj_w, b->proj_b, D, D, error) ||
        !fold_layer_scale (L, l, 2, b->fc2_w, b->fc2_b, D, Hd, error))
      return FALSE;
  }
  if (c->map_pool && !read_map_head (L, m, error))
    return FALSE;
  if (c->rope_mixed) {
    guint64 s_freqs[4] = { 2, c->depth, c->num_heads, c->head_dim / 2 };
    TAKE (m->rope_freqs, "rope.freqs", "", 4, s_freqs);
  }
  if (c->num_classes && c->patch_mean_head) {
    /* [classes][2 D]: its first D columns read the class token, the others the mean patch token */
    guint64 s_wide[2] = { c->num_classes, 2 * D };
    float *w;
    if (!take_head (L, FALSE, s_wide, &w, &m->head_b, error)) {
      g_free (w);
      return FALSE;
    }
    m->head_w = g_new (float, c->num_classes *D);
    m->head_mean_w = g_new (float, c->num_classes *D);
    for (guint64 k = 0; k < c->num_classes; k++) {
      memcpy (m->head_w + k * D, w + k * 2 * D, D * sizeof (float));
      memcpy (m->head_mean_w + k * D, w + k * 2 * D + D, D * sizeof (float));
    }
    g_free (w);
  } else if (c->num_classes && !take_head (L, FALSE, s_head, &m->head_w, &m->head_b, error))
    return FALSE;
  if (c->num_classes && c->distilled &&
      !take_head (L, TRUE, s_head, &m->head_dist_w, &m->head_dist_b, error))
    return FALSE;
#undef TAKE
#undef TAKE_BIAS
#undef TAKE_AS
  return TRUE;
}

/* transformers' DINOv2 interpolates its position embedding to whatever size its processor
 * crops to (224 for a 518 px checkpoint) in every forward pass: load it at that size, resampled
 * the same way, so heed runs what transformers runs. */
static gboolean
run_as_transformers (const Loader *L, HeedModel *m, GError **error)
{
  const HeedModelConfig *c = &m->config;
  m->pos_resample_plain_bicubic = TRUE;
  if (L->hf_pixels <= 0 || L->hf_pixels == c->img_size)
    return TRUE;
  if (L->hf_pixels != floor (L->hf_pixels) || L->hf_pixels > 4096 ||
      fmod (L->hf_pixels, c->patch_size) != 0) {
    heed_log (HEED_LOG_WARNING,
              "%s: preprocessor_config.json's %g px is not a multiple of the patch size %u; the "
              "model runs at its own %u px",
              L->source, L->hf_pixels, c->patch_size, c->img_size);
    return TRUE;
  }
  return heed_model_set_input_size (m, (guint) L->hf_pixels, error);
}

/* Every tensor in the blocks, the patch embedding and timm's attention pooling feeds what heed
 * computes: one it did not read belongs to a variant it does not run (timm's qk_norm,
 * scale_attn_norm, a norm inside the patch embedding or the pool), and running without it would
 * give wrong results without a word. The tensors elsewhere that no layout reads (a CLIP text tower,
 * transformers' pooler, position ids) are left as they are. */
/* Whose tensor names the model was read by, and how many tensors in the files no part of it
 * reads (a text tower, a decoder, a language model beside an image tower), for people */
static void
note_names_read (const Loader *L, HeedModelConfig *c)
{
  const char *under = L->renamed_from ? L->renamed_under : L->hf ? L->prefix : "";
  g_snprintf (c->names_read, sizeof c->names_read, "%s names%s%s%s",
              L->renamed_from ? L->renamed_from
              : L->hf         ? "transformers'"
                              : "timm's",
              *under ? " under " : "", under, L->renamed_from ? ", renamed to timm's" : "");
  GHashTableIter it;
  gpointer value;
  c->unread_tensors = 0;
  g_hash_table_iter_init (&it, L->tensors);
  while (g_hash_table_iter_next (&it, NULL, &value))
    c->unread_tensors += !((TensorEntry *) value)->taken;
}

static gboolean
check_blocks_read (const Loader *L, GError **error)
{
  char *hf_blocks = hf_name (L, L->clip ? "encoder.layers." : "encoder.layer.");
  char *hf_patch = hf_name (L, "embeddings.patch_embedding"); /* ViT's ...embeddings., CLIP's */
  char *hf_pool = hf_name (L, L->siglip ? "head." : "embeddings.patch_embedding");
  const char *timm[] = { "blocks.", "patch_embed.", "attn_pool." },
             *hf[] = { hf_blocks, hf_patch, hf_pool };
  const char *unread = first_unread (L, L->hf ? hf : timm, G_N_ELEMENTS (timm));
  if (unread)
    model_error (error, L,
                 "tensor '%s' belongs to no layout heed runs (a ViT variant with more in its "
                 "blocks or patch embedding, such as qk-norm or extra norms): refused rather "
                 "than run without it",
                 unread);
  g_free (hf_blocks);
  g_free (hf_patch);
  g_free (hf_pool);
  return unread == NULL;
}

/* The safetensors header's tensors into the table (and __metadata__ into L->metadata) */
static gboolean
take_safetensors_header (Loader *L, const guint8 *data, gsize size, JsonParser **header,
                         GError **error)
{
  guint64 header_len;
  if (size < 8)
    return model_error (error, L, "too short to be a safetensors file (%" G_GSIZE_FORMAT " bytes)",
                        size);
  memcpy (&header_len, data, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > size - 8 || header_len > MAX_HEADER_BYTES || header_len < 2)
    return model_error (error, L,
                        "header length %" G_GUINT64_FORMAT " does not fit the %" G_GSIZE_FORMAT
                        "-byte file: not a safetensors file, or truncated",
                        header_len, size);
  L->data = data + 8 + header_len;
  L->data_size = size - 8 - header_len;
  *header = parse_json ((const char *) data + 8, header_len, L, "the header", error);
  if (!*header)
    return FALSE;
  JsonObject *root = json_node_get_object (json_parser_get_root (*header));
  GList *members = json_object_get_members (root);
  gboolean ok = TRUE;
  for (GList *it = members; it && ok; it = it->next) {
    const char *key = it->data;
    JsonNode *node = json_object_get_member (root, key);
    if (strcmp (key, "__metadata__") == 0) {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        ok = model_error (error, L, "__metadata__ is not an object");
      else
        L->metadata = json_node_get_object (node);
    } else {
      ok = parse_entry (L, key, node, error);
    }
  }
  g_list_free (members);
  return ok;
}

/* One file of a checkpoint: the whole of it, or one shard of several */
typedef struct {
  const guint8 *data;
  gsize size;
  const char *name; /* for messages: its path */
  const char *file; /* a shard's name in the index's weight_map */
} Shard;

/* Every shard's tensors into L's table: safetensors or PyTorch checkpoints, not both */
static gboolean
take_shards (Loader *L, const Shard *shards, guint n, GPtrArray *headers, GError **error)
{
  const char *whole = L->source;
  gboolean ok = TRUE;
  for (guint i = 0; i < n && ok; i++) {
    const Shard *sh = &shards[i];
    gboolean torch = heed_torch_is_checkpoint (sh->data, sh->size);
    JsonParser *header = NULL;
    L->shard = i;
    L->source = sh->name;
    if (heed_torch_is_legacy (sh->data, sh->size))
      ok = model_error (error, L,
                        "a checkpoint in torch.save's format from before PyTorch 1.6, which heed "
                        "does not read: save its state dict again with a newer PyTorch, or as "
                        "safetensors");
    else if (i > 0 && torch != L->torch)
      ok = model_error (error, L, "a shard in another format than the first (%s)",
                        L->torch ? "a PyTorch checkpoint" : "safetensors");
    else
      ok = (L->torch = torch) ? take_torch_tensors (L, sh->data, sh->size, error)
                              : take_safetensors_header (L, sh->data, sh->size, &header, error);
    if (header)
      g_ptr_array_add (headers, header);
  }
  L->source = whole;
  return ok;
}

/* Whether one of the n shards read is the file the index names */
static gboolean
shard_read (const Shard *shards, guint n, const char *file)
{
  for (guint i = 0; i < n; i++)
    if (strcmp (shards[i].file, file) == 0)
      return TRUE;
  return FALSE;
}

/* A sharded checkpoint's index and its n shards read must agree: every tensor the weight map
 * names in the shard it names (where that shard was read: load_index passes over the absent
 * ones beside a tower), and no tensor it does not name */
static gboolean
check_weight_map (const Loader *L, JsonObject *weight_map, const Shard *shards, guint n,
                  GError **error)
{
  GList *names = json_object_get_members (weight_map);
  gboolean ok = TRUE;
  for (GList *it = names; it && ok; it = it->next) {
    const char *file = json_object_get_string_member (weight_map, it->data);
    const TensorEntry *e = g_hash_table_lookup (L->tensors, it->data);
    if (!shard_read (shards, n, file))
      continue;
    if (!e || strcmp (shards[e->shard].file, file) != 0)
      ok = model_error (error, L, "the index puts '%s' in %s, which does not hold it",
                        (const char *) it->data, file);
  }
  g_list_free (names);
  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, L->tensors);
  while (ok && g_hash_table_iter_next (&iter, &key, &value))
    if (!json_object_has_member (weight_map, key))
      ok = model_error (error, L, "tensor '%s' of %s is not in the index's weight_map",
                        (const char *) key, shards[((const TensorEntry *) value)->shard].name);
  return ok;
}

static HeedModel *
load_shards (const Shard *shards, guint n, JsonObject *weight_map, const char *config_json,
             const char *preprocessor_json, const char *name, GError **error)
{
  Loader L = { .source = name ? name : "<memory>", .prefix = "" };
  JsonParser *config = NULL, *preproc = NULL;
  GPtrArray *headers = g_ptr_array_new_with_free_func (g_object_unref);
  HeedModel *m = NULL;

  L.tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  if (!take_shards (&L, shards, n, headers, error) ||
      (weight_map && !check_weight_map (&L, weight_map, shards, n, error)))
    goto out;
  if (config_json) {
    config = parse_json (config_json, strlen (config_json), &L, "config.json", error);
    if (!config)
      goto out;
    L.config = json_node_get_object (json_parser_get_root (config));
  }
  if (preprocessor_json) {
    preproc = parse_json (preprocessor_json, strlen (preprocessor_json), &L,
                          "preprocessor_config.json", error);
    if (!preproc)
      goto out;
    L.preproc = json_node_get_object (json_parser_get_root (preproc));
  }

  m = g_new0 (HeedModel, 1);
  m->source = g_strdup (L.source);
  /* what the model is (an unsupported variant says so first), then its bytes */
  read_checkpoint_arch (&L);
  SwinNames swin;
  if (!strip_wrapper_prefixes (&L, error)) {
    heed_model_destroy (&m);
  } else if (swin_layout (&L, &swin)) { /* stages over shrinking grids: read apart */
    if (!read_swin (&L, &swin, m, error) || (!L.torch && !check_no_overlap (&L, error)))
      heed_model_destroy (&m);
    else
      note_names_read (&L, &m->config);
  } else if (!rename_hf_dinov3 (&L, error) || !read_open_clip (&L, error) ||
             !rename_aimv2 (&L, error) || !rename_vision_tower (&L, error) ||
             !rename_hf_internvl (&L, error) || !read_config (&L, m, error) ||
             (!L.torch && !check_no_overlap (&L, error)) || !read_weights (&L, m, error) ||
             !check_blocks_read (&L, error))
    heed_model_destroy (&m);
  else if ((L.dinov2 || L.hf_dinov3) && !run_as_transformers (&L, m, error))
    heed_model_destroy (&m);
  else
    note_names_read (&L, &m->config);

out:
  g_hash_table_destroy (L.tensors);
  g_ptr_array_free (headers, TRUE);
  if (L.made_config)
    json_object_unref (L.made_config);
  g_free (L.checkpoint_arch);
  if (config)
    g_object_unref (config);
  if (preproc)
    g_object_unref (preproc);
  return m;
}

HeedModel *
heed_model_load_from_data (const guint8 *data, gsize size, const char *config_json,
                           const char *preprocessor_json, const char *name, GError **error)
{
  Shard whole = { data, size, name ? name : "<memory>", NULL };
  return load_shards (&whole, 1, NULL, config_json, preprocessor_json, name, error);
}

/* The config files the hub ships beside the weights (timm's and transformers'), where they are */
static gboolean
read_configs_beside (const char *path, char **config, char **preproc, GError **error)
{
  char *dir = g_path_get_dirname (path);
  /* OpenCLIP's weights: open_clip_config.json, where it is there */
  char *base = g_path_get_basename (path);
  char *config_path = g_build_filename (dir, "open_clip_config.json", NULL);
  if (!g_str_has_prefix (base, "open_clip_") ||
      !g_file_test (config_path, G_FILE_TEST_IS_REGULAR)) {
    g_free (config_path);
    config_path = g_build_filename (dir, "config.json", NULL);
  }
  g_free (base);
  char *preproc_path = g_build_filename (dir, "preprocessor_config.json", NULL);
  gboolean ok = (!g_file_test (config_path, G_FILE_TEST_IS_REGULAR) ||
                 heed_file_read (config_path, 16 << 20, config, NULL, error)) &&
                (!g_file_test (preproc_path, G_FILE_TEST_IS_REGULAR) ||
                 heed_file_read (preproc_path, 1 << 20, preproc, NULL, error));
  g_free (config_path), g_free (preproc_path), g_free (dir);
  return ok;
}

/* A shard's file name as an index names it: a plain name in the index's folder (never a path
 * that could reach outside it) */
static gboolean
is_shard_name (const char *name)
{
  return name && *name && *name != '.' && strlen (name) <= 255 && !strchr (name, '/') &&
         !strchr (name, '\\') &&
         (g_str_has_suffix (name, ".safetensors") || g_str_has_suffix (name, ".bin"));
}

gboolean
heed_read_shard_index (const char *path, JsonParser **parser, JsonObject **weight_map,
                       GPtrArray **shards, GError **error)
{
  char *text = NULL;
  JsonObject *map = NULL;
  *parser = json_parser_new ();
  *shards = g_ptr_array_new_with_free_func (g_free);
  if (!heed_file_read (path, 64 << 20, &text, NULL, error))
    goto fail;
  JsonNode *root =
      json_parser_load_from_data (*parser, text, -1, NULL) ? json_parser_get_root (*parser) : NULL;
  g_free (text); /* the parser holds its own copy */
  JsonNode *wm = root && JSON_NODE_HOLDS_OBJECT (root)
                     ? json_object_get_member (json_node_get_object (root), "weight_map")
                     : NULL;
  map = wm && JSON_NODE_HOLDS_OBJECT (wm) ? json_node_get_object (wm) : NULL;
  if (!map || json_object_get_size (map) == 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL,
                 "%s: not a sharded checkpoint's index (no weight_map of tensor names to files)",
                 path);
    goto fail;
  }
  /* the shards, each once, in the order the index first names them */
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  GList *tensors = json_object_get_members (map);
  gboolean ok = TRUE;
  for (GList *it = tensors; it && ok; it = it->next) {
    JsonNode *f = json_object_get_member (map, it->data);
    const char *file =
        f && JSON_NODE_HOLDS_VALUE (f) && json_node_get_value_type (f) == G_TYPE_STRING
            ? json_node_get_string (f)
            : NULL;
    if (!is_shard_name (file)) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL,
                   "%s: the weight_map names '%s' for '%s', not a .safetensors or .bin file "
                   "beside the index",
                   path, file ? file : "(not a string)", (const char *) it->data);
      ok = FALSE;
    } else if (!g_hash_table_contains (seen, file) && (*shards)->len >= MAX_SHARDS) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL, "%s: more than %u shards", path,
                   MAX_SHARDS);
      ok = FALSE;
    } else if (!g_hash_table_contains (seen, file)) {
      g_hash_table_add (seen, (gpointer) file);
      g_ptr_array_add (*shards, g_strdup (file));
    }
  }
  g_list_free (tensors);
  g_hash_table_destroy (seen);
  if (!ok)
    goto fail;
  if (weight_map)
    *weight_map = map;
  return TRUE;
fail:
  g_clear_object (parser);
  g_ptr_array_free (*shards, TRUE);
  *shards = NULL;
  return FALSE;
}

/* The parts of a vision-language or captioning model beside its image tower that heed never
 * reads (the language model and its head, a text tower or decoder, BLIP-2's Q-Former, the
 * projectors): transformers writes them after the tower, and in a sharded checkpoint they fill
 * most of the shards (LLaVA 1.5 7B's tower is 0.6 of its 14 GB) */
static gboolean
beside_tower (const char *name)
{
  static const char *const parts[] = {
    "language_model.",
    "model.language_model.",
    "lm_head.",
    "model.lm_head.",
    "text_model.",
    "model.text_model.",
    "text_decoder.",
    "qformer.",
    "query_tokens",
    "multi_modal_projector.",
    "model.connector.",
    "mlp1.",
    "model.multi_modal_projector.",
  };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    if (g_str_has_prefix (name, parts[i]))
      return TRUE;
  return FALSE;
}

gboolean
heed_shard_beside_tower (JsonObject *weight_map, const char *shard)
{
  GList *names = json_object_get_members (weight_map);
  gboolean beside = TRUE;
  for (GList *it = names; it && beside; it = it->next)
    beside = strcmp (json_object_get_string_member (weight_map, it->data), shard) != 0 ||
             beside_tower (it->data);
  g_list_free (names);
  return beside;
}

/* transformers' sharded checkpoints: model.safetensors.index.json (or
 * pytorch_model.bin.index.json) maps each tensor to one of the files beside it. A shard that
 * is not there is passed over where it holds only what heed never reads (the hub fetches no
 * such shard): its names are left out of the weight map's checks. */
static HeedModel *
load_index (const char *path, GError **error)
{
  char *config = NULL, *preproc = NULL, *dir = g_path_get_dirname (path);
  JsonParser *parser = NULL;
  JsonObject *map = NULL;
  GPtrArray *names = NULL;
  GPtrArray *files = g_ptr_array_new_with_free_func ((GDestroyNotify) g_mapped_file_unref);
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  Shard *shards = NULL;
  HeedModel *m = NULL;
  guint n = 0, passed_over = 0;
  if (!heed_read_shard_index (path, &parser, &map, &names, error))
    goto out;
  shards = g_new0 (Shard, names->len);
  for (guint i = 0; i < names->len; i++) {
    char *shard_path = g_build_filename (dir, names->pdata[i], NULL);
    GError *ferr = NULL;
    if (!g_file_test (shard_path, G_FILE_TEST_EXISTS) &&
        heed_shard_beside_tower (map, names->pdata[i])) {
      g_free (shard_path);
      passed_over++;
      continue;
    }
    GMappedFile *file = g_mapped_file_new (shard_path, FALSE, &ferr);
    g_ptr_array_add (paths, shard_path); /* the shard's own path, for its messages */
    if (!file) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot read shard %s of %s: %s",
                   (const char *) names->pdata[i], path, ferr->message);
      g_error_free (ferr);
      goto out;
    }
    g_ptr_array_add (files, file);
    shards[n++] = (Shard){ (const guint8 *) g_mapped_file_get_contents (file),
                           g_mapped_file_get_length (file), shard_path, names->pdata[i] };
  }
  if (n == 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL,
                 "%s: its shards hold only a language model, text tower or projector (no image "
                 "tower), and none of them is here",
                 path);
    goto out;
  }
  if (read_configs_beside (path, &config, &preproc, error) &&
      (m = load_shards (shards, n, map, config, preproc, path, error)))
    m->config.shards_unread = passed_over;
out:
  g_free (shards);
  g_ptr_array_free (files, TRUE);
  g_ptr_array_free (paths, TRUE);
  if (names)
    g_ptr_array_free (names, TRUE);
  g_clear_object (&parser);
  g_free (config), g_free (preproc), g_free (dir);
  return m;
}

HeedModel *
heed_model_load (const char *path, GError **error)
{
  if (heed_hub_is_name (path)) { /* hf:OWNER/NAME: from the cache, fetched first if need be */
    char *local = heed_hub_resolve (path, NULL, NULL, error);
    HeedModel *m = local ? heed_model_load (local, error) : NULL;
    g_free (local);
    return m;
  }
  /* a folder as the hub's repositories hold it (a clone, a download): its weights by the names
   * the hub fetches, first found first */
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    static const char *const names[] = { HEED_WEIGHTS_FILES };
    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
      char *inside = g_build_filename (path, names[i], NULL);
      gboolean found = g_file_test (inside, G_FILE_TEST_IS_REGULAR);
      HeedModel *m = found ? heed_model_load (inside, error) : NULL;
      g_free (inside);
      if (found)
        return m;
    }
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                 "folder %s holds no model.safetensors, pytorch_model.bin, sharded checkpoint's "
                 "index (model.safetensors.index.json, pytorch_model.bin.index.json) or "
                 "OpenCLIP weights (open_clip_model.safetensors, open_clip_pytorch_model.bin)",
                 path);
    return NULL;
  }
  if (g_str_has_suffix (path, ".index.json"))
    return load_index (path, error);
  GError *ferr = NULL;
  GMappedFile *file = g_mapped_file_new (path, FALSE, &ferr);
  char *config = NULL, *preproc = NULL;
  HeedModel *m = NULL;

  if (!file) {
    /* timm/deit_tiny_patch16_224.fb_in1k, as transformers and timm take it: say how heed does */
    gboolean hub =
        g_error_matches (ferr, G_FILE_ERROR, G_FILE_ERROR_NOENT) && heed_hub_could_be_repo (path);
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot read model %s: %s%s%s", path,
                 ferr->message, hub ? "; a Hugging Face hub model is named hf:" : "",
                 hub ? path : "");
    g_error_free (ferr);
    return NULL;
  }
  if (read_configs_beside (path, &config, &preproc, error))
    m = heed_model_load_from_data ((const guint8 *) g_mapped_file_get_contents (file),
                                   g_mapped_file_get_length (file), config, preproc, path, error);
  g_free (config);
  g_free (preproc);
  g_mapped_file_unref (file);
  return m;
}

GResource *heed_default_model_get_resource (void);

HeedModel *
heed_model_load_default (GError **error)
{
  GError *rerr = NULL;
  GBytes *bytes = g_resource_lookup_data (heed_default_model_get_resource (),
                                          "/org/heed/models/default.safetensors",
                                          G_RESOURCE_LOOKUP_FLAGS_NONE, &rerr);
  if (!bytes) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "the embedded default model is missing: %s",
                 rerr->message);
    g_error_free (rerr);
    return NULL;
  }
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  HeedModel *m = heed_model_load_from_data (data, size, NULL, NULL, "default", error);
  g_bytes_unref (bytes);
  return m;
}

static void
block_weights_clear (HeedBlockWeights *b)
{
  float *all[] = { b->norm1_w,     b->norm1_b,     b->qkv_w,     b->qkv_b,      b->proj_w,
                   b->proj_b,      b->norm2_w,     b->norm2_b,   b->fc1_w,      b->fc1_b,
                   b->fc2_w,       b->fc2_b,       b->attn_bias, b->mlp_norm_w, b->mlp_norm_b,
                   b->attn_norm_w, b->attn_norm_b, b->qk_scale,  b->cpb_w1,     b->cpb_b1,
                   b->cpb_w2 };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_free (all[i]);
}

void
heed_model_destroy (HeedModel **model)
{
  HeedModel *m = model ? *model : NULL;
  if (!m)
    return;
  for (guint l = 0; m->blocks && l < m->config.depth; l++)
    block_weights_clear (&m->blocks[l]);
  g_free (m->blocks);
  for (guint i = 0; i < m->rel_table_count; i++)
    g_free (m->rel_tables[i]);
  g_free (m->rel_tables);
  if (m->map_head)
    block_weights_clear (m->map_head);
  g_free (m->map_head);
  g_free (m->cls_token);
  g_free (m->pos_embed);
  g_free (m->patch_w);
  g_free (m->patch_b);
  g_free (m->norm_w);
  g_free (m->norm_b);
  g_free (m->head_w);
  g_free (m->head_dist_w);
  g_free (m->pos_native);
  g_free (m->head_mean_w);
  g_free (m->head_dist_b);
  g_free (m->norm_pre_w);
  g_free (m->patch_norm_w);
  g_free (m->patch_norm_b);
  g_free (m->rope_freqs);
  for (guint i = 0; i < HEED_SWIN_MAX_STAGES; i++)
    g_free (m->merge_norm_w[i]), g_free (m->merge_norm_b[i]), g_free (m->merge_w[i]);
  g_free (m->norm_pre_b);
  g_free (m->head_b);
  g_strfreev (m->config.labels);
  g_free (m->source);
  g_free (m);
  *model = NULL;
}

gsize
heed_rope_table_floats (const HeedModelConfig *c)
{
  return (gsize) (c->rope_mixed ? c->depth : 1) * c->num_heads * c->num_patches * c->head_dim;
}

gsize
heed_rope_block_offset (const HeedModelConfig *c, guint block)
{
  return c->rope_mixed ? (gsize) block * c->num_heads * c->num_patches * (c->head_dim / 2) : 0;
}

float *
heed_rope_table (const HeedModelConfig *c, const float *mixed_freqs)
{
  guint pairs = c->head_dim / 2, bands = c->head_dim / 4, G = c->grid, H = c->num_heads;
  guint tables = c->rope_mixed ? c->depth : 1;
  float *table = g_new (float, heed_rope_table_floats (c));
  float *out = table;
  for (guint l = 0; l < tables; l++)
    for (guint h = 0; h < H; h++)
      for (guint p = 0; p < c->num_patches; p++)
        for (guint j = 0; j < pairs; j++, out += 2) {
          /* the patch's row and column, in the order the kind takes them (its column first
           * with timm's grid_indexing "xy") */
          guint first = c->rope_columns_first ? p % G : p / G;
          guint second = c->rope_columns_first ? p / G : p % G;
          double angle;
          if (c->rope_mixed) { /* both times the block's and head's learnt frequencies, added */
            gsize f = ((gsize) l * H + h) * pairs + j, other = (gsize) c->depth * H * pairs;
            angle = (double) first * mixed_freqs[f] + (double) second * mixed_freqs[other + f];
          } else {
            /* the first for a head's first half of pairs, the second for the others: EVA-02's
             * in the reference grid's units (so a fine-tune at another size keeps the angles'
             * range), DINOv3's the patch's centre on [-1, 1] over 2 pi per period */
            guint index = j < bands ? first : second;
            double inv_period = pow (c->rope_base, -(double) (j % bands) / bands);
            double at = index + c->rope_grid_offset;
            if (c->rope_ref_grid)
              at = at * c->rope_ref_grid / G;
            angle = c->rope_dinov3 ? 2 * G_PI * ((index + 0.5) * 2 / G - 1) * inv_period
                                   : at * inv_period;
          }
          out[0] = (float) cos (angle);
          out[1] = (float) sin (angle);
        }
  return table;
}

char *
heed_model_describe (const HeedModelConfig *c)
{
  guint registers = c->num_registers;
  gboolean cls = c->num_prefix > registers + (c->distilled ? 1 : 0);
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "%u px, patch %u, dim %u, %u blocks, %u heads of %u, ", c->img_size,
                          c->patch_size, c->dim, c->depth, c->num_heads, c->head_dim);
  if (c->swin_stages) { /* the figures above are the last stage's; then each stage's */
    g_string_append (s, c->swin_v2 ? "Swin V2 stages: " : "Swin stages: ");
    for (guint i = 0; i < c->swin_stages; i++) {
      g_string_append_printf (s, "%s%u block%s, %u head%s, %u x %u in windows of %u", i ? "; " : "",
                              c->swin[i].depth, c->swin[i].depth == 1 ? "" : "s", c->swin[i].heads,
                              c->swin[i].heads == 1 ? "" : "s", c->swin[i].grid, c->swin[i].grid,
                              c->swin[i].window);
      if (c->swin[i].pretrained_window)
        g_string_append_printf (s, " (pretrained at %u)", c->swin[i].pretrained_window);
      if (c->swin[i].padded > c->swin[i].grid)
        g_string_append_printf (s, " (padded to %u, %s)", c->swin[i].padded,
                                c->swin_pad_first ? "then rolled" : "after the roll");
    }
    g_string_append (s, "; ");
  }
  if (c->num_classes)
    g_string_append_printf (s, "%u classes", c->num_classes);
  else
    g_string_append (s, "head-less");
  g_string_append_printf (s, "; %s%s", cls ? "class token" : "no class token",
                          c->distilled ? ", distillation token" : "");
  if (registers)
    g_string_append_printf (s, ", %u register%s", registers, registers == 1 ? "" : "s");
  if (c->rel_pos_bias)
    g_string_append (s, "; relative position bias");
  if (c->rope && c->rope_mixed)
    g_string_append (s, "; RoPE-Mixed's rotary position embedding (learnt frequencies)");
  else if (c->rope && c->rope_dinov3)
    g_string_append_printf (s, "; DINOv3's rotary position embedding (base %g)", c->rope_base);
  else if (c->rope && c->rope_ref_grid)
    g_string_append_printf (s, "; rotary position embedding (learnt at %u x %u)", c->rope_ref_grid,
                            c->rope_ref_grid);
  else if (c->rope)
    g_string_append_printf (s, "; rotary position embedding (base %g%s)", c->rope_base,
                            c->rope_columns_first ? ", columns first" : "");
  g_string_append_printf (s, "; pooling: %s; activation: %s%s; %s eps %g",
                          c->map_pool ? "attention (a learnt query over every token)"
                          : c->avg_pool && c->pool_after_norm   ? "mean token after the final norm"
                          : c->pool_without_norm && c->avg_pool ? "mean patch token, no norm"
                          : c->pool_without_norm                ? "class token, no norm"
                          : c->avg_pool                         ? "mean patch token, then fc_norm"
                          : c->patch_mean_head                  ? "class token and mean patch token"
                                                                : "class token",
                          c->swiglu       ? "SwiGLU (a SiLU gate)"
                          : c->quick_gelu ? "QuickGELU"
                          : c->gelu_tanh  ? "GELU (tanh approximation)"
                                          : "GELU",
                          c->mlp_norm ? ", then a LayerNorm" : "",
                          c->rms_norm ? "RMSNorm" : "LayerNorm", c->ln_eps);
  if (c->map_pool && c->pool_heads != c->num_heads)
    g_string_append_printf (s, "; attention pooling in %u heads", c->pool_heads);
  if (c->rope && c->rope_grid_offset != 0)
    g_string_append_printf (s, "; rotary positions from %g", c->rope_grid_offset);
  if (c->attn_norm)
    g_string_append (s, "; a LayerNorm over the attention's output");
  if (c->names_read[0])
    g_string_append_printf (s, "; read by %s", c->names_read);
  if (c->unread_tensors)
    g_string_append_printf (s, ", %u tensor%s in the files unread", c->unread_tensors,
                            c->unread_tensors == 1 ? "" : "s");
  if (c->shards_unread)
    g_string_append_printf (s, ", %u shard%s of what is beside the tower not there, not needed",
                            c->shards_unread, c->shards_unread == 1 ? "" : "s");
  return g_string_free (s, FALSE);
}

double
heed_model_flops (const HeedModelConfig *c)
{
  double T = c->tokens, D = c->dim, Hd = c->mlp_hidden;
  if (c->swin_stages) { /* each stage's blocks over its windows, and its patch merging */
    const HeedSwinStage *s0 = &c->swin[0];
    double total =
        2.0 * s0->grid * s0->grid * (c->in_chans * c->patch_size * c->patch_size) * s0->dim;
    for (guint i = 0; i < c->swin_stages; i++) {
      const HeedSwinStage *s = &c->swin[i];
      double t = (double) s->grid * s->grid, d = s->dim, n = (double) s->window * s->window;
      total += s->depth * (2.0 * t * d * 3 * d + 2.0 * 2.0 * t * n * d + 2.0 * t * d * d +
                           2.0 * 2.0 * t * d * s->mlp_hidden);
      if (i)
        total += 2.0 * t * (2 * d) * d; /* 4 x the stage before's width to this one's */
    }
    return total + 2.0 * D * c->num_classes;
  }
  double patch = 2.0 * c->num_patches * (c->in_chans * c->patch_size * c->patch_size) * D;
  double block =
      2.0 * T * D * 3 * D + 2.0 * 2.0 * T * T * D + 2.0 * T * D * D +
      2.0 * T * D * Hd * (c->swiglu ? 3 : 2); /* SwiGLU's fc1: the gate's and the value's */
  /* attention pooling: keys and values of every token, one query, its projection and MLP */
  double map =
      c->map_pool ? 2.0 * T * D * 2 * D + 2.0 * 2.0 * T * D + 2.0 * D * D + 2.0 * 2.0 * D * Hd : 0;
  return patch + c->depth * block + map + 2.0 * D * c->num_classes;
}
