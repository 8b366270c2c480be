/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Random models of a given shape (benchmarks, tests) and the F32 safetensors writer that hands
 * them to PyTorch for side-by-side timing. */
#include "heed-private.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static float *
random_array (GRand *rng, gsize n, double scale, double offset)
{
  float *a = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    a[i] = (float) (offset + scale * (2.0 * g_rand_double (rng) - 1.0));
  return a;
}

HeedModel *
heed_model_new_random (const HeedModelConfig *shape, guint32 seed, GError **error)
{
  HeedModel *m;
  HeedModelConfig *c;
  GRand *rng;
  gsize D, Hd, kp;

  if (!shape->patch_size || !shape->img_size || shape->img_size % shape->patch_size ||
      !shape->dim || !shape->depth || !shape->num_heads || shape->dim % shape->num_heads ||
      !shape->mlp_hidden) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "random model shape is inconsistent (img %u, patch %u, dim %u, heads %u, "
                 "depth %u, mlp %u)",
                 shape->img_size, shape->patch_size, shape->dim, shape->num_heads, shape->depth,
                 shape->mlp_hidden);
    return NULL;
  }
  m = g_new0 (HeedModel, 1);
  c = &m->config;
  *c = *shape;
  c->labels = NULL;
  c->in_chans = 3;
  c->grid = c->img_size / c->patch_size;
  c->num_patches = c->grid * c->grid;
  c->num_prefix = 1; /* a plain class-token ViT */
  c->distilled = FALSE;
  c->tokens = c->num_patches + 1;
  c->head_dim = c->dim / c->num_heads;
  if (c->ln_eps == 0.0f)
    c->ln_eps = 1e-6f;
  if (c->std[0] == 0.0f)
    for (guint i = 0; i < 3; i++)
      c->mean[i] = 0.5f, c->std[i] = 0.5f;
  if (!(c->crop_fraction > 0.0f && c->crop_fraction <= 1.0f))
    c->crop_fraction = 1.0f;
  if (!c->preprocess_source[0])
    g_strlcpy (c->preprocess_source, "the shape given", sizeof c->preprocess_source);
  m->source = g_strdup ("<random>");

  rng = g_rand_new_with_seed (seed);
  D = c->dim;
  Hd = c->mlp_hidden;
  kp = 3 * (gsize) c->patch_size * c->patch_size;
  m->cls_token = random_array (rng, D, 0.5, 0);
  m->pos_embed = random_array (rng, c->tokens * D, 0.5, 0);
  m->patch_w = random_array (rng, D * kp, 1.0 / sqrt ((double) kp), 0);
  m->patch_b = random_array (rng, D, 0.1, 0);
  m->blocks = g_new0 (HeedBlockWeights, c->depth);
  for (guint l = 0; l < c->depth; l++) {
    HeedBlockWeights *b = &m->blocks[l];
    b->norm1_w = random_array (rng, D, 0.2, 1.0);
    b->norm1_b = random_array (rng, D, 0.1, 0);
    b->qkv_w = random_array (rng, 3 * D * D, 1.0 / sqrt ((double) D), 0);
    b->qkv_b = random_array (rng, 3 * D, 0.1, 0);
    b->proj_w = random_array (rng, D * D, 1.0 / sqrt ((double) D), 0);
    b->proj_b = random_array (rng, D, 0.1, 0);
    b->norm2_w = random_array (rng, D, 0.2, 1.0);
    b->norm2_b = random_array (rng, D, 0.1, 0);
    b->fc1_w = random_array (rng, Hd * D, 1.0 / sqrt ((double) D), 0);
    b->fc1_b = random_array (rng, Hd, 0.1, 0);
    b->fc2_w = random_array (rng, D * Hd, 1.0 / sqrt ((double) Hd), 0);
    b->fc2_b = random_array (rng, D, 0.1, 0);
  }
  m->norm_w = random_array (rng, D, 0.2, 1.0);
  m->norm_b = random_array (rng, D, 0.1, 0);
  if (c->num_classes) {
    m->head_w = random_array (rng, c->num_classes * D, 1.0 / sqrt ((double) D), 0);
    m->head_b = random_array (rng, c->num_classes, 0.1, 0);
  }
  g_rand_free (rng);
  return m;
}

typedef struct {
  char *name;
  const float *data;
  guint ndim;
  guint64 shape[4];
} SaveEntry;

static void
add_entry (GArray *entries, char *name, const float *data, guint ndim, guint64 d0, guint64 d1,
           guint64 d2, guint64 d3)
{
  SaveEntry e = { name, data, ndim, { d0, d1, d2, d3 } };
  g_array_append_val (entries, e);
}

static char *
triple_json (const float v[3])
{
  char a[3][G_ASCII_DTOSTR_BUF_SIZE];
  for (guint i = 0; i < 3; i++)
    g_ascii_dtostr (a[i], sizeof a[i], v[i]);
  return g_strdup_printf ("[%s, %s, %s]", a[0], a[1], a[2]);
}

gboolean
heed_model_save (const HeedModel *m, const char *path, GError **error)
{
  const HeedModelConfig *c = &m->config;
  GArray *entries = g_array_new (FALSE, FALSE, sizeof (SaveEntry));
  guint64 D = c->dim, Hd = c->mlp_hidden, p = c->patch_size;
  JsonBuilder *jb = json_builder_new ();
  guint64 offset = 0;
  gboolean ok = FALSE;
  FILE *f = NULL;
  char *header = NULL;

  /* the plain layout benchmarks and tests use: what the file's names could not say otherwise
   * (average pooling with a class token, QuickGELU, a norm before the blocks) is refused too */
  if (c->swin_stages) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "heed writes plain class-token ViTs only, not Swin's stages");
    g_array_unref (entries);
    g_object_unref (jb);
    return FALSE;
  }
  if (c->num_prefix != 1 || c->patch_mean_head || c->avg_pool || c->map_pool || c->quick_gelu ||
      c->gelu_tanh || c->swiglu || m->norm_pre_w || c->rel_pos_bias || c->rope || c->mlp_norm ||
      c->attn_norm || c->rms_norm || m->patch_norm_w) {
    g_set_error (
        error, HEED_ERROR, HEED_ERROR_INVALID,
        "heed writes plain class-token ViTs only (this one has %u prefix tokens%s%s%s%s%s%s%s%s)",
        c->num_prefix, c->patch_mean_head ? ", a head on the mean patch token" : "",
        c->avg_pool   ? ", average pooling"
        : c->map_pool ? ", attention pooling"
                      : "",
        c->quick_gelu  ? ", QuickGELU"
        : c->gelu_tanh ? ", tanh GELU"
        : c->swiglu    ? ", a SwiGLU MLP"
                       : "",
        m->norm_pre_w ? ", a norm before the blocks" : "",
        c->rel_pos_bias ? ", a relative position bias" : "",
        c->rope ? ", a rotary position embedding" : "",
        c->mlp_norm || c->attn_norm ? ", a norm inside its MLP or attention" : "",
        c->rms_norm || m->patch_norm_w ? ", RMSNorm or a norm of its patch embedding" : "");
    g_array_unref (entries);
    g_object_unref (jb);
    return FALSE;
  }
  add_entry (entries, g_strdup ("cls_token"), m->cls_token, 3, 1, 1, D, 0);
  add_entry (entries, g_strdup ("pos_embed"), m->pos_embed, 3, 1, c->tokens, D, 0);
  add_entry (entries, g_strdup ("patch_embed.proj.weight"), m->patch_w, 4, D, 3, p, p);
  add_entry (entries, g_strdup ("patch_embed.proj.bias"), m->patch_b, 1, D, 0, 0, 0);
  for (guint l = 0; l < c->depth; l++) {
    const HeedBlockWeights *b = &m->blocks[l];
#define E(n, data, nd, a0, a1)                                                                     \
  add_entry (entries, g_strdup_printf ("blocks.%u." n, l), data, nd, a0, a1, 0, 0)
    E ("norm1.weight", b->norm1_w, 1, D, 0);
    E ("norm1.bias", b->norm1_b, 1, D, 0);
    E ("attn.qkv.weight", b->qkv_w, 2, 3 * D, D);
    E ("attn.qkv.bias", b->qkv_b, 1, 3 * D, 0);
    E ("attn.proj.weight", b->proj_w, 2, D, D);
    E ("attn.proj.bias", b->proj_b, 1, D, 0);
    E ("norm2.weight", b->norm2_w, 1, D, 0);
    E ("norm2.bias", b->norm2_b, 1, D, 0);
    E ("mlp.fc1.weight", b->fc1_w, 2, Hd, D);
    E ("mlp.fc1.bias", b->fc1_b, 1, Hd, 0);
    E ("mlp.fc2.weight", b->fc2_w, 2, D, Hd);
    E ("mlp.fc2.bias", b->fc2_b, 1, D, 0);
#undef E
  }
  add_entry (entries, g_strdup ("norm.weight"), m->norm_w, 1, D, 0, 0, 0);
  add_entry (entries, g_strdup ("norm.bias"), m->norm_b, 1, D, 0, 0, 0);
  if (m->head_w) {
    add_entry (entries, g_strdup ("head.weight"), m->head_w, 2, c->num_classes, D, 0, 0);
    add_entry (entries, g_strdup ("head.bias"), m->head_b, 1, c->num_classes, 0, 0, 0);
  }

  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "__metadata__");
  json_builder_begin_object (jb);
  {
    char *heads = g_strdup_printf ("%u", c->num_heads), *img = g_strdup_printf ("%u", c->img_size);
    char *ps = g_strdup_printf ("%u", c->patch_size);
    char *mean = triple_json (c->mean), *std = triple_json (c->std);
    const char *kv[][2] = { { "format", "pt" },   { "num_heads", heads }, { "img_size", img },
                            { "patch_size", ps }, { "mean", mean },       { "std", std } };
    for (guint i = 0; i < G_N_ELEMENTS (kv); i++) {
      json_builder_set_member_name (jb, kv[i][0]);
      json_builder_add_string_value (jb, kv[i][1]);
    }
    g_free (heads), g_free (img), g_free (ps), g_free (mean), g_free (std);
  }
  json_builder_end_object (jb);
  for (guint i = 0; i < entries->len; i++) {
    SaveEntry *e = &g_array_index (entries, SaveEntry, i);
    guint64 n = 1;
    json_builder_set_member_name (jb, e->name);
    json_builder_begin_object (jb);
    json_builder_set_member_name (jb, "dtype");
    json_builder_add_string_value (jb, "F32");
    json_builder_set_member_name (jb, "shape");
    json_builder_begin_array (jb);
    for (guint d = 0; d < e->ndim; d++) {
      json_builder_add_int_value (jb, (gint64) e->shape[d]);
      n *= e->shape[d];
    }
    json_builder_end_array (jb);
    json_builder_set_member_name (jb, "data_offsets");
    json_builder_begin_array (jb);
    json_builder_add_int_value (jb, (gint64) offset);
    json_builder_add_int_value (jb, (gint64) (offset + 4 * n));
    json_builder_end_array (jb);
    json_builder_end_object (jb);
    offset += 4 * n;
  }
  json_builder_end_object (jb);
  {
    JsonGenerator *gen = json_generator_new ();
    JsonNode *root = json_builder_get_root (jb);
    json_generator_set_root (gen, root);
    header = json_generator_to_data (gen, NULL);
    json_node_unref (root);
    g_object_unref (gen);
  }

  f = fopen (path, "wb");
  if (!f) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot write %s", path);
    goto out;
  }
  {
    gsize hlen = strlen (header), padded = (hlen + 7) / 8 * 8;
    guint64 le = GUINT64_TO_LE ((guint64) padded);
    fwrite (&le, 8, 1, f);
    fwrite (header, 1, hlen, f);
    for (gsize i = hlen; i < padded; i++)
      fputc (' ', f);
    for (guint i = 0; i < entries->len; i++) {
      SaveEntry *e = &g_array_index (entries, SaveEntry, i);
      guint64 n = 1;
      for (guint d = 0; d < e->ndim; d++)
        n *= e->shape[d];
      fwrite (e->data, 4, n, f); /* safetensors is little-endian, as are heed's targets */
    }
  }
  ok = fclose (f) == 0;
  if (!ok)
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot write %s", path);
out:
  for (guint i = 0; i < entries->len; i++)
    g_free (g_array_index (entries, SaveEntry, i).name);
  g_array_unref (entries);
  g_object_unref (jb);
  g_free (header);
  return ok;
}

/* ---- another input size ---- */

/* PyTorch's antialiased bicubic (F.interpolate (mode="bicubic", antialias=True)), PIL's
 * kernel: a = -0.5. */
static double
bicubic_aa (double x)
{
  const double a = -0.5;
  x = fabs (x);
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0)
    return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

/* One axis of the resampling: for each output i, the taps (first, count) and their normalised
 * weights, as PyTorch's antialiased upsampling computes them (align_corners=False): the
 * support widens by the scale when shrinking. Bicubic (a = -0.5), or bilinear's triangle. */
static double *
axis_weights (guint in, guint out, gboolean bilinear, guint *first, guint *count, guint *width)
{
  double scale = (double) in / out;
  double support = (bilinear ? 1.0 : 2.0) * MAX (scale, 1.0), inv = 1.0 / MAX (scale, 1.0);
  *width = (guint) ceil (support) * 2 + 1;
  double *w = g_new0 (double, (gsize) out **width);
  for (guint i = 0; i < out; i++) {
    double center = scale * (i + 0.5), total = 0;
    gint lo = MAX ((gint) (center - support + 0.5), 0);
    gint hi = MIN ((gint) (center + support + 0.5), (gint) in);
    first[i] = (guint) lo;
    count[i] = (guint) MIN (hi - lo, (gint) *width);
    for (guint j = 0; j < count[i]; j++)
      total += w[(gsize) i * *width + j] =
          bilinear ? MAX (0.0, 1.0 - fabs ((j + lo - center + 0.5) * inv))
                   : bicubic_aa ((j + lo - center + 0.5) * inv);
    for (guint j = 0; j < count[i] && total != 0; j++)
      w[(gsize) i * *width + j] /= total;
  }
  return w;
}

/* PyTorch's bicubic without antialiasing (F.interpolate (mode="bicubic", align_corners=False),
 * transformers' DINOv2 interpolate_pos_encoding): four taps at a = -0.75 around the source
 * position, those past an edge taken from the edge sample. In the same form as axis_weights:
 * each output's first tap, their count and their weights. */
static double *
axis_weights_plain (guint in, guint out, guint *first, guint *count, guint *width)
{
  const double a = -0.75, scale = (double) in / out;
  *width = 4;
  double *w = g_new0 (double, (gsize) out * 4);
  for (guint i = 0; i < out; i++) {
    double src = scale * (i + 0.5) - 0.5, x0 = floor (src), t = src - x0;
    double k[4] = { ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                    ((a + 2) * t - (a + 3)) * t * t + 1,
                    ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                    ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a };
    gint lo = CLAMP ((gint) x0 - 1, 0, (gint) in - 1), hi = CLAMP ((gint) x0 + 2, 0, (gint) in - 1);
    first[i] = (guint) lo;
    count[i] = (guint) (hi - lo + 1);
    for (gint j = 0; j < 4; j++)
      w[(gsize) i * 4 + (guint) (CLAMP ((gint) x0 - 1 + j, 0, (gint) in - 1) - lo)] += k[j];
  }
  return w;
}

/* PyTorch's bilinear without antialiasing (F.interpolate (mode="bilinear",
 * align_corners=False)) of one axis: output i's two source samples, from first[i], and the
 * second's weight */
static void
axis_bilinear_plain (guint in, guint out, guint *first, double *second)
{
  double scale = (double) in / out;
  for (guint i = 0; i < out; i++) {
    double src = MAX (scale * (i + 0.5) - 0.5, 0.0);
    first[i] = MIN ((guint) src, in - 1);
    second[i] = first[i] + 1 < in ? src - first[i] : 0.0;
  }
}

/* timm's BEiT at another grid (resize_rel_pos_bias_table, as timm's checkpoint filter calls it
 * when a model is made at another size, without scipy, timm's default): the source table's
 * offsets placed at geometrically growing distances from the centre, 1, 1 + q, 1 + q + q^2, ...,
 * q found by bisection so that the farthest falls at the new table's edge; each new integer
 * offset interpolated linearly between the two placed around it (its RegularGridInterpolator,
 * in float32 as timm runs it; past the last, the last). Per axis: the left and right source
 * index and their distances, or 1 and 1 where both are 0 */
static void
axis_timm_geometric (guint src, guint dst, guint *left, guint *right, float *dist_left,
                     float *dist_right)
{
  guint n = src / 2, half = dst / 2;
  double lo = 1.01, hi = 1.5, q = lo;
  while (hi - lo > 1e-6) {
    q = (lo + hi) / 2.0;
    double gp = (1.0 - pow (q, n)) / (1.0 - q); /* 1 + q + ... + q^(n - 1) */
    if (gp > half)
      hi = q;
    else
      lo = q;
  }
  /* the placed offsets, ascending: -dis[n - 1] .. -dis[0], 0, dis[0] .. dis[n - 1] */
  float *at = g_new (float, src);
  double cur = 1;
  at[n] = 0;
  for (guint i = 0; i < n; i++) {
    at[n + 1 + i] = (float) cur;
    at[n - 1 - i] = (float) -cur;
    cur += pow (q, i + 1);
  }
  for (guint i = 0; i < dst; i++) {
    float x = (float) i - (float) half;
    guint r = 0;
    while (r < src && at[r] < x) /* torch.bucketize: the first at[r] >= x */
      r++;
    r = MIN (r, src - 1);
    guint l = r > 0 ? r - 1 : 0;
    float dl = MAX (x - at[l], 0.0f), dr = MAX (at[r] - x, 0.0f);
    if (dl == 0 && dr == 0)
      dl = dr = 1;
    left[i] = l, right[i] = r, dist_left[i] = dl, dist_right[i] = dr;
  }
  g_free (at);
}

/* BEiT at another grid: the table's (2 g1 - 1)^2 offset rows resampled as an image to
 * (2 g2 - 1)^2, its three class-token rows kept; then looked up for the new grid. transformers'
 * (BeitRelativePositionBias.forward) by plain bilinear interpolation, timm's as above */
static float *
beit_bias_resampled (const float *table, guint g1, guint g2, guint heads, gboolean timm)
{
  guint s1 = 2 * g1 - 1, s2 = 2 * g2 - 1;
  if (g1 == g2) /* the checkpoint's own grid (a size set back): its table as it is */
    return heed_beit_bias (table, g1, heads);
  float *resampled = g_new (float, ((gsize) s2 * s2 + 3) * heads);
  if (timm) {
    guint *left = g_new (guint, s2), *right = g_new (guint, s2);
    float *dl = g_new (float, s2), *dr = g_new (float, s2);
    axis_timm_geometric (s1, s2, left, right, dl, dr);
    for (guint y = 0; y < s2; y++)
      for (guint x = 0; x < s2; x++)
        for (guint h = 0; h < heads; h++) {
          /* RegularGridInterpolator's corners in its order, each value times the distances to
           * the opposite corner, over the cell's area */
          const guint ys[2] = { left[y], right[y] }, xs[2] = { left[x], right[x] };
          const float wy[2] = { dr[y], dl[y] }, wx[2] = { dr[x], dl[x] };
          float v = 0;
          for (guint a = 0; a < 2; a++)
            for (guint b = 0; b < 2; b++)
              v += table[((gsize) ys[a] * s1 + xs[b]) * heads + h] * (wy[a] * wx[b]);
          resampled[((gsize) y * s2 + x) * heads + h] = v / ((dl[y] + dr[y]) * (dl[x] + dr[x]));
        }
    g_free (left), g_free (right), g_free (dl), g_free (dr);
  } else {
    guint *first = g_new (guint, s2);
    double *second = g_new (double, s2);
    axis_bilinear_plain (s1, s2, first, second);
    for (guint y = 0; y < s2; y++)
      for (guint x = 0; x < s2; x++)
        for (guint h = 0; h < heads; h++) {
          double v = 0;
          for (guint a = 0; a < 2; a++)
            for (guint b = 0; b < 2; b++) {
              double wy = a ? second[y] : 1 - second[y], wx = b ? second[x] : 1 - second[x];
              guint sy = MIN (first[y] + a, s1 - 1), sx = MIN (first[x] + b, s1 - 1);
              v += wy * wx * table[((gsize) sy * s1 + sx) * heads + h];
            }
          resampled[((gsize) y * s2 + x) * heads + h] = (float) v;
        }
    g_free (first), g_free (second);
  }
  memcpy (resampled + (gsize) s2 * s2 * heads, table + (gsize) s1 * s1 * heads,
          3 * heads * sizeof (float));
  float *bias = heed_beit_bias (resampled, g2, heads);
  g_free (resampled);
  return bias;
}

gboolean
heed_model_set_input_size (HeedModel *m, guint img_size, GError **error)
{
  HeedModelConfig *c = &m->config;
  if (img_size == c->img_size)
    return TRUE;
  if (img_size < c->patch_size || img_size > 4096 || img_size % c->patch_size) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "input size %u: it must be a multiple of the patch size %u, up to 4096", img_size,
                 c->patch_size);
    return FALSE;
  }
  if (c->swin_stages) { /* the same windows and biases over each stage's new grid */
    HeedSwinStage before[HEED_SWIN_MAX_STAGES];
    memcpy (before, c->swin, sizeof before);
    char *unfit = heed_swin_fit (c, img_size);
    if (unfit) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID, "input size %u: %s", img_size, unfit);
      g_free (unfit);
      return FALSE;
    }
    /* Swin V2's window cut to another grid (or no longer cut): its blocks' biases made by their
     * position MLPs for it */
    for (guint s = 0, l = 0; s < c->swin_stages; l += c->swin[s++].depth)
      for (guint b = l; c->swin[s].window != before[s].window && b < l + c->swin[s].depth; b++) {
        g_free (m->blocks[b].attn_bias);
        m->blocks[b].attn_bias = heed_swinv2_block_bias (&m->blocks[b], &c->swin[s]);
      }
    return TRUE;
  }
  if (c->rel_pos_bias) { /* every block's bias from its table (or the shared one), resampled */
    guint g2 = img_size / c->patch_size, H = c->num_heads;
    double tokens = (double) g2 * g2 + 1, bytes = 4.0 * c->depth * H * tokens * tokens;
    if (bytes > HEED_MAX_BIAS_BYTES) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                   "input size %u: its blocks' attention biases would take %.1f GB: more than "
                   "heed holds",
                   img_size, bytes / 1e9);
      return FALSE;
    }
    for (guint l = 0; l < c->depth; l++) {
      g_free (m->blocks[l].attn_bias);
      m->blocks[l].attn_bias = beit_bias_resampled (m->rel_tables[MIN (l, m->rel_table_count - 1)],
                                                    m->rel_grid, g2, H, m->rel_tables_timm);
    }
  }
  guint D = c->dim, wx;
  /* always from the checkpoint's own grid, so sizes set one after another lose nothing */
  if (!m->pos_native) {
    m->pos_native = g_memdup2 (m->pos_embed, (gsize) c->tokens * D * sizeof (float));
    m->grid_native = c->grid;
  }
  guint g1 = m->grid_native, g2 = img_size / c->patch_size;
  guint *first = g_new (guint, g2), *count = g_new (guint, g2);
  double *w = m->pos_resample_plain_bicubic
                  ? axis_weights_plain (g1, g2, first, count, &wx)
                  : axis_weights (g1, g2, m->pos_resample_bilinear, first, count, &wx);
  /* separable, in double: rows first (g1 rows of g2 columns), then columns */
  double *tmp = g_new0 (double, (gsize) g1 *g2 *D);
  const float *src = m->pos_native + (gsize) c->num_prefix * D; /* past the prefix positions */
  for (guint y = 0; y < g1; y++)
    for (guint x = 0; x < g2; x++)
      for (guint j = 0; j < count[x]; j++) {
        double k = w[(gsize) x * wx + j];
        const float *s = src + ((gsize) y * g1 + first[x] + j) * D;
        double *t = tmp + ((gsize) y * g2 + x) * D;
        for (guint d = 0; d < D; d++)
          t[d] += k * s[d];
      }
  guint P = c->num_prefix;
  float *pos = g_new0 (float, (gsize) (g2 * g2 + P) * D);
  memcpy (pos, m->pos_embed, (gsize) P * D * sizeof (float)); /* the prefix keeps its positions */
  for (guint y = 0; y < g2; y++)
    for (guint x = 0; x < g2; x++) {
      float *o = pos + ((gsize) P + y * g2 + x) * D;
      for (guint d = 0; d < D; d++) {
        double v = 0;
        for (guint j = 0; j < count[y]; j++)
          v += w[(gsize) y * wx + j] * tmp[((gsize) (first[y] + j) * g2 + x) * D + d];
        o[d] = (float) v;
      }
    }
  g_free (m->pos_embed);
  m->pos_embed = pos;
  c->img_size = img_size;
  c->grid = g2;
  c->num_patches = g2 * g2;
  c->tokens = c->num_patches + P;
  g_free (tmp), g_free (w), g_free (first), g_free (count);
  return TRUE;
}
