/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PyTorch checkpoints (pytorch_model.bin, *.pth): the zip files torch.save writes since
 * PyTorch 1.6, read without Python and without running anything in them.
 *
 * Such a file is a zip archive whose entries are stored, not compressed: ARCHIVE/data.pkl, a
 * pickle of the state dict, and ARCHIVE/data/KEY, the raw bytes of each storage the tensors
 * view. A pickle is a program for Python's unpickler. This file interprets the opcodes pickle
 * protocols 2 to 5 emit over values of its own (numbers, strings, tuples, lists, dicts,
 * storages, tensors). A class or function the pickle names is kept as a name and never called:
 * only the functions that rebuild a tensor from a storage (torch._utils._rebuild_tensor_v2 and
 * its kin) are understood, so a crafted file can at worst be refused. Every length, offset,
 * shape and stride is checked against the bytes there are before it is used, and nothing here
 * recurses, so no nesting depth can exhaust the stack. */
#include "heed-private.h"

#include <string.h>

#define MAX_DIMS 8
#define ZIP_LOCAL 0x04034b50u
#define ZIP_CENTRAL 0x02014b50u
#define ZIP_END 0x06054b50u
#define ZIP64_LOCATOR 0x07064b50u
#define ZIP64_END 0x06064b50u

typedef struct {
  guint64 offset, size; /* the entry's bytes within the file */
  guint16 method;       /* 0: stored */
} ZipEntry;

typedef struct {
  const char *torch_name; /* torch.FloatStorage */
  const char *dtype;      /* safetensors' name for it */
  guint size;
} StorageType;

static const StorageType storage_types[] = {
  { "torch.FloatStorage", "F32", 4 },     { "torch.HalfStorage", "F16", 2 },
  { "torch.BFloat16Storage", "BF16", 2 }, { "torch.DoubleStorage", "F64", 8 },
  { "torch.LongStorage", "I64", 8 },      { "torch.IntStorage", "I32", 4 },
  { "torch.ShortStorage", "I16", 2 },     { "torch.CharStorage", "I8", 1 },
  { "torch.ByteStorage", "U8", 1 },       { "torch.BoolStorage", "BOOL", 1 },
};

typedef struct {
  const StorageType *type;
  const guint8 *bytes;
  guint64 numel;
} Storage;

typedef enum {
  V_MARK, /* MARK's place on the stack */
  V_NONE,
  V_INT, /* also bool */
  V_FLOAT,
  V_STR,    /* also bytes */
  V_TUPLE,  /* items */
  V_LIST,   /* items */
  V_DICT,   /* items: key, value, key, value... (a later key wins, as in Python) */
  V_GLOBAL, /* a class or function by name (s: "module.name"), never called */
  V_OBJECT, /* what calling or building from one would have made (s: its name) */
  V_STORAGE,
  V_TENSOR,
} Kind;

typedef struct {
  Kind kind;
  gint64 i;
  char *s;
  GPtrArray *items;
  const Storage *storage;
  HeedTorchTensor *tensor;
} Value;

typedef struct {
  const char *source;
  const guint8 *file;
  gsize file_size;
  GHashTable *entries; /* name -> ZipEntry */
  char *prefix;        /* "archive/": the folder data.pkl is in */
  const guint8 *p, *end, *start;
  GPtrArray *stack;     /* Value *, marks included */
  GHashTable *memo;     /* index -> Value * */
  GPtrArray *values;    /* every Value made, freed together */
  GHashTable *storages; /* key -> Storage * */
  GPtrArray *tensors;   /* HeedTorchTensor *, owned by the values that hold them */
} Reader;

static gboolean torch_error (GError **error, const Reader *r, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
torch_error (GError **error, const Reader *r, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  heed_model_error_valist (error, r->source, format, args);
  va_end (args);
  return FALSE;
}

static void
tensor_free (gpointer p)
{
  HeedTorchTensor *t = p;
  g_free (t->name);
  g_free (t->owned);
  g_free (t);
}

static void
value_free (gpointer p)
{
  Value *v = p;
  g_free (v->s);
  if (v->items)
    g_ptr_array_free (v->items, TRUE);
  g_free (v);
}

/* ---- the zip archive ---- */

static guint16
le16 (const guint8 *p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static guint32
le32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static guint64
le64 (const guint8 *p)
{
  return (guint64) le32 (p) | (guint64) le32 (p + 4) << 32;
}

/* The zip64 extra field's values replace those of the 32-bit fields that hold 0xffffffff, in
 * this order: uncompressed size, compressed size, local header offset. */
static gboolean
read_zip64_extra (const guint8 *extra, guint len, guint64 *uncompressed, guint64 *compressed,
                  guint64 *local)
{
  guint pos = 0;
  while (pos + 4 <= len) {
    guint id = le16 (extra + pos), size = le16 (extra + pos + 2);
    if (pos + 4 + size > len)
      return FALSE;
    if (id == 0x0001) {
      const guint8 *q = extra + pos + 4, *qend = q + size;
      guint64 *fields[] = { uncompressed, compressed, local };
      for (guint f = 0; f < G_N_ELEMENTS (fields); f++)
        if (*fields[f] == 0xffffffffu) {
          if (q + 8 > qend)
            return FALSE;
          *fields[f] = le64 (q);
          q += 8;
        }
      return TRUE;
    }
    pos += 4 + size;
  }
  return TRUE;
}

static gboolean
read_zip (Reader *r, GError **error)
{
  const guint8 *d = r->file;
  guint64 size = r->file_size, end = 0, count, cd_size, cd_offset;
  gboolean found = FALSE;
  if (size < 22)
    return torch_error (error, r, "too short to be a zip archive (%" G_GUINT64_FORMAT " bytes)",
                        size);
  /* the end record is the last thing in the file, after a comment of up to 64 kB */
  for (guint64 pos = size - 22 + 1; pos-- > 0 && size - pos <= 22 + 0xffff;)
    if (le32 (d + pos) == ZIP_END && pos + 22 + le16 (d + pos + 20) == size) {
      end = pos, found = TRUE;
      break;
    }
  if (!found)
    return torch_error (error, r, "a zip archive without its end record: truncated or damaged");
  count = le16 (d + end + 10);
  cd_size = le32 (d + end + 12);
  cd_offset = le32 (d + end + 16);
  if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
    /* zip64, as torch.save writes an archive over 4 GB */
    guint64 at;
    if (end < 20 || le32 (d + end - 20) != ZIP64_LOCATOR || (at = le64 (d + end - 20 + 8)) > size ||
        size - at < 56 || le32 (d + at) != ZIP64_END)
      return torch_error (error, r, "a zip64 archive without its end record: damaged");
    count = le64 (d + at + 32);
    cd_size = le64 (d + at + 40);
    cd_offset = le64 (d + at + 48);
  }
  if (cd_offset > size || cd_size > size - cd_offset || count > cd_size / 46)
    return torch_error (error, r,
                        "the zip archive's directory (%" G_GUINT64_FORMAT
                        " entries, %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
                        ") lies outside the %" G_GUINT64_FORMAT "-byte file: truncated or damaged",
                        count, cd_size, cd_offset, size);
  guint64 pos = cd_offset, cd_end = cd_offset + cd_size;
  for (guint64 i = 0; i < count; i++) {
    if (pos + 46 > cd_end || le32 (d + pos) != ZIP_CENTRAL)
      return torch_error (error, r,
                          "the zip archive's directory is damaged at entry %" G_GUINT64_FORMAT, i);
    guint flags = le16 (d + pos + 8), method = le16 (d + pos + 10);
    guint64 compressed = le32 (d + pos + 20), uncompressed = le32 (d + pos + 24);
    guint name_len = le16 (d + pos + 28), extra_len = le16 (d + pos + 30);
    guint comment_len = le16 (d + pos + 32);
    guint64 local = le32 (d + pos + 42);
    if (pos + 46 + name_len + extra_len + comment_len > cd_end)
      return torch_error (error, r,
                          "the zip archive's directory is damaged at entry %" G_GUINT64_FORMAT, i);
    char *name = g_strndup ((const char *) d + pos + 46, name_len);
    if (!read_zip64_extra (d + pos + 46 + name_len, extra_len, &uncompressed, &compressed,
                           &local) ||
        local > size || size - local < 30 || le32 (d + local) != ZIP_LOCAL) {
      torch_error (error, r, "the zip archive's entry '%s' is damaged", name);
      g_free (name);
      return FALSE;
    }
    guint64 data = local + 30 + le16 (d + local + 26) + le16 (d + local + 28);
    const char *damage =
        flags & 1                                   ? "is encrypted"
        : data > size || compressed > size - data   ? "lies outside the file: truncated or damaged"
        : method == 0 && compressed != uncompressed ? "is stored with two sizes: damaged"
                                                    : NULL;
    if (damage) {
      torch_error (error, r, "the zip archive's entry '%s' %s", name, damage);
      g_free (name);
      return FALSE;
    }
    ZipEntry *e = g_new (ZipEntry, 1);
    *e = (ZipEntry){ .offset = data, .size = compressed, .method = (guint16) method };
    g_hash_table_insert (r->entries, name, e); /* a later duplicate wins, as in Python's zipfile */
    pos += 46 + name_len + extra_len + comment_len;
  }
  return TRUE;
}

/* An entry's bytes; torch.save stores every entry uncompressed, so one that is compressed was
 * re-packed by something else. */
static const ZipEntry *
zip_entry (const Reader *r, const char *name, GError **error)
{
  const ZipEntry *e = g_hash_table_lookup (r->entries, name);
  if (!e)
    torch_error (error, r, "the checkpoint has no '%s'", name);
  else if (e->method != 0) {
    torch_error (error, r,
                 "the checkpoint's '%s' is compressed (zip method %u); torch.save stores its "
                 "entries uncompressed: re-save the state dict with torch.save",
                 name, e->method);
    e = NULL;
  }
  return e;
}

/* The folder data.pkl is in: torch.save names it after the file ("archive/" since 1.13) */
static gboolean
find_pickle (Reader *r, GError **error)
{
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, r->entries);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    const char *name = key, *slash = strchr (name, '/');
    if (slash && strcmp (slash + 1, "data.pkl") == 0) {
      if (r->prefix)
        return torch_error (error, r, "the archive holds two pickles ('%sdata.pkl' and '%s')",
                            r->prefix, name);
      r->prefix = g_strndup (name, (gsize) (slash - name + 1));
    }
  }
  if (!r->prefix)
    return torch_error (error, r,
                        "a zip archive without a data.pkl: not a checkpoint torch.save wrote");
  char *order_name = g_strconcat (r->prefix, "byteorder", NULL);
  const ZipEntry *order = g_hash_table_lookup (r->entries, order_name);
  g_free (order_name);
  if (order && !(order->size == 6 && memcmp (r->file + order->offset, "little", 6) == 0))
    return torch_error (error, r, "the checkpoint was written on a big-endian machine");
  return TRUE;
}

/* ---- the unpickler ---- */

static Value *
new_value (Reader *r, Kind kind)
{
  Value *v = g_new0 (Value, 1);
  v->kind = kind;
  if (kind == V_TUPLE || kind == V_LIST || kind == V_DICT)
    v->items = g_ptr_array_new ();
  g_ptr_array_add (r->values, v);
  return v;
}

static Value *
new_named (Reader *r, Kind kind, char *name /* taken */)
{
  Value *v = new_value (r, kind);
  v->s = name;
  return v;
}

static const char *
kind_name (const Value *v)
{
  static const char *names[] = { "a mark",   "None",      "a number",  "a number",
                                 "a string", "a tuple",   "a list",    "a dict",
                                 "a name",   "an object", "a storage", "a tensor" };
  return names[v->kind];
}

static gboolean
need (Reader *r, guint64 n, GError **error)
{
  if ((guint64) (r->end - r->p) < n)
    return torch_error (error, r, "data.pkl ends inside an opcode's argument: truncated");
  return TRUE;
}

static void
push (Reader *r, Value *v)
{
  g_ptr_array_add (r->stack, v);
}

static Value *
pop (Reader *r, GError **error)
{
  if (r->stack->len == 0 || ((Value *) r->stack->pdata[r->stack->len - 1])->kind == V_MARK) {
    torch_error (error, r, "data.pkl pops an empty stack at byte %td", r->p - r->start - 1);
    return NULL;
  }
  return g_ptr_array_steal_index (r->stack, r->stack->len - 1);
}

static Value *
top (Reader *r, GError **error)
{
  if (r->stack->len == 0 || ((Value *) r->stack->pdata[r->stack->len - 1])->kind == V_MARK) {
    torch_error (error, r, "data.pkl reads an empty stack at byte %td", r->p - r->start - 1);
    return NULL;
  }
  return r->stack->pdata[r->stack->len - 1];
}

/* Takes everything above the topmost mark, and the mark, off the stack, into a new array. */
static GPtrArray *
pop_mark (Reader *r, GError **error)
{
  guint m = r->stack->len;
  while (m > 0 && ((Value *) r->stack->pdata[m - 1])->kind != V_MARK)
    m--;
  if (m == 0) {
    torch_error (error, r, "data.pkl looks for a mark that is not there at byte %td",
                 r->p - r->start - 1);
    return NULL;
  }
  GPtrArray *items = g_ptr_array_sized_new (r->stack->len - m);
  for (guint i = m; i < r->stack->len; i++)
    g_ptr_array_add (items, r->stack->pdata[i]);
  g_ptr_array_set_size (r->stack, m - 1);
  return items;
}

static gint64
int_of (const Value *v)
{
  return v->i;
}

static gboolean
is_int (const Value *v)
{
  return v && v->kind == V_INT;
}

static const Storage *
storage_for (Reader *r, const Value *pid, GError **error)
{
  /* torch.save's persistent id: ('storage', torch.FloatStorage, key, location, numel) */
  const GPtrArray *a = pid->kind == V_TUPLE ? pid->items : NULL;
  const Value *tag, *type, *key, *numel;
  if (!a || a->len != 5 || (tag = a->pdata[0])->kind != V_STR || strcmp (tag->s, "storage") != 0 ||
      (type = a->pdata[1])->kind != V_GLOBAL || (key = a->pdata[2])->kind != V_STR ||
      !is_int (numel = a->pdata[4]) || int_of (numel) < 0) {
    torch_error (error, r, "data.pkl names a persistent object that is not a storage");
    return NULL;
  }
  const StorageType *st = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (storage_types) && !st; i++)
    if (strcmp (type->s, storage_types[i].torch_name) == 0)
      st = &storage_types[i];
  if (!st) {
    torch_error (error, r, "storage '%s' has type %s, which heed does not read", key->s, type->s);
    return NULL;
  }
  Storage *s = g_hash_table_lookup (r->storages, key->s);
  if (s) {
    /* the same storage viewed twice (tied weights) */
    if (s->type != st || s->numel != (guint64) int_of (numel)) {
      torch_error (error, r, "storage '%s' is named with two types or sizes", key->s);
      return NULL;
    }
    return s;
  }
  char *name = g_strconcat (r->prefix, "data/", key->s, NULL);
  const ZipEntry *e = zip_entry (r, name, error);
  guint64 n = (guint64) int_of (numel);
  if (e && n > e->size / st->size) {
    torch_error (error, r,
                 "storage '%s' holds %" G_GUINT64_FORMAT " bytes, too few for %" G_GUINT64_FORMAT
                 " elements of %s",
                 key->s, e->size, n, st->dtype);
    e = NULL;
  }
  g_free (name);
  if (!e)
    return NULL;
  s = g_new (Storage, 1);
  *s = (Storage){ .type = st, .bytes = r->file + e->offset, .numel = n };
  g_hash_table_insert (r->storages, g_strdup (key->s), s);
  return s;
}

static gboolean
read_dims (Reader *r, const Value *v, const char *what, guint64 *out, guint *ndim, GError **error)
{
  if (v->kind != V_TUPLE)
    return torch_error (error, r, "a tensor's %s is %s, not a tuple", what, kind_name (v));
  if (v->items->len > MAX_DIMS)
    return torch_error (error, r, "a tensor has %u dimensions (at most %d)", v->items->len,
                        MAX_DIMS);
  for (guint i = 0; i < v->items->len; i++) {
    const Value *x = v->items->pdata[i];
    if (!is_int (x) || int_of (x) < 0)
      return torch_error (error, r, "a tensor's %s holds something other than a size", what);
    out[i] = (guint64) int_of (x);
  }
  *ndim = v->items->len;
  return TRUE;
}

/* torch._utils._rebuild_tensor_v2 (storage, offset, size, stride, ...): a view of a storage,
 * made row-major (a copy) where the strides are not. */
static Value *
rebuild_tensor (Reader *r, const Value *args, GError **error)
{
  const GPtrArray *a = args->kind == V_TUPLE ? args->items : NULL;
  guint64 shape[MAX_DIMS], stride[MAX_DIMS], numel = 1, last = 0;
  guint ndim, nstride;
  const Value *storage;
  if (!a || a->len < 4 || (storage = a->pdata[0])->kind != V_STORAGE || !is_int (a->pdata[1]) ||
      int_of (a->pdata[1]) < 0) {
    torch_error (error, r, "a tensor is rebuilt from arguments that are not a storage's view");
    return NULL;
  }
  if (!read_dims (r, a->pdata[2], "size", shape, &ndim, error) ||
      !read_dims (r, a->pdata[3], "stride", stride, &nstride, error))
    return NULL;
  if (nstride != ndim) {
    torch_error (error, r, "a tensor has %u sizes and %u strides", ndim, nstride);
    return NULL;
  }
  const Storage *s = storage->storage;
  guint64 offset = (guint64) int_of (a->pdata[1]);
  gboolean row_major = TRUE;
  for (guint i = ndim; i-- > 0;) {
    if (shape[i] != 0 && numel > G_MAXUINT64 / shape[i])
      goto outside;
    if (shape[i] != 1 && stride[i] != numel)
      row_major = FALSE;
    numel *= shape[i];
  }
  if (numel > 0) {
    /* the last element's index, overflow-safe: it and so every other must lie in the storage */
    last = offset;
    for (guint i = 0; i < ndim; i++) {
      if (stride[i] != 0 && shape[i] - 1 > (G_MAXUINT64 - last) / stride[i])
        goto outside;
      last += (shape[i] - 1) * stride[i];
    }
    if (last >= s->numel || numel > s->numel)
      goto outside;
  }
  HeedTorchTensor *t = g_new0 (HeedTorchTensor, 1);
  t->dtype = s->type->dtype;
  t->elem_size = s->type->size;
  t->ndim = ndim;
  t->numel = numel;
  memcpy (t->shape, shape, sizeof shape);
  guint size = s->type->size;
  if (numel == 0) {
    t->bytes = s->bytes; /* nothing to read, wherever the offset points */
  } else if (row_major) {
    t->bytes = s->bytes + offset * size;
  } else {
    /* a transposed or sliced view: copied element by element, the index counted like an
     * odometer over the shape */
    guint64 index[MAX_DIMS] = { 0 };
    t->owned = g_try_malloc (numel * size);
    if (!t->owned) {
      tensor_free (t);
      torch_error (error, r, "out of memory for a %" G_GUINT64_FORMAT "-element tensor", numel);
      return NULL;
    }
    for (guint64 k = 0; k < numel; k++) {
      guint64 at = offset;
      for (guint i = 0; i < ndim; i++)
        at += index[i] * stride[i];
      memcpy (t->owned + k * size, s->bytes + at * size, size);
      for (guint i = ndim; i-- > 0;)
        if (++index[i] < shape[i])
          break;
        else
          index[i] = 0;
    }
    t->bytes = t->owned;
  }
  g_ptr_array_add (r->tensors, t);
  Value *v = new_value (r, V_TENSOR);
  v->tensor = t;
  return v;
outside:
  torch_error (error, r,
               "a tensor's view (offset %" G_GUINT64_FORMAT ") reaches past its %" G_GUINT64_FORMAT
               "-element storage",
               offset, s->numel);
  return NULL;
}

/* What calling `fn` with `args` makes, for the functions torch.save's pickles call; anything
 * else becomes an object by the function's name, never called. */
static Value *
apply (Reader *r, const Value *fn, const Value *args, GError **error)
{
  static const char *const rebuild[] = { "torch._utils._rebuild_tensor_v2",
                                         "torch._utils._rebuild_tensor" };
  static const char *const parameter[] = { "torch._utils._rebuild_parameter",
                                           "torch._utils._rebuild_parameter_with_state" };
  const char *name = fn->kind == V_GLOBAL ? fn->s : NULL;
  const GPtrArray *a = args->kind == V_TUPLE ? args->items : NULL;
  if (!name || !a)
    return new_named (r, V_OBJECT, g_strdup (name ? name : "an object"));
  if (g_str_equal (name, "collections.OrderedDict") || g_str_equal (name, "builtins.dict"))
    return new_value (r, V_DICT); /* filled by SETITEMS after it */
  for (guint i = 0; i < G_N_ELEMENTS (rebuild); i++)
    if (g_str_equal (name, rebuild[i]))
      return rebuild_tensor (r, args, error);
  for (guint i = 0; i < G_N_ELEMENTS (parameter); i++)
    if (g_str_equal (name, parameter[i]) && a->len >= 1 &&
        ((Value *) a->pdata[0])->kind == V_TENSOR)
      return a->pdata[0]; /* nn.Parameter (tensor, requires_grad, hooks): the tensor */
  /* torch._tensor._rebuild_from_type_v2 (func, type, args, state): a tensor with Python state */
  if (g_str_equal (name, "torch._tensor._rebuild_from_type_v2") && a->len >= 3 &&
      ((Value *) a->pdata[0])->kind == V_GLOBAL && ((Value *) a->pdata[2])->kind == V_TUPLE &&
      !g_str_equal (((Value *) a->pdata[0])->s, name))
    return apply (r, a->pdata[0], a->pdata[2], error);
  return new_named (r, V_OBJECT, g_strdup (name));
}

static gboolean
read_string (Reader *r, guint64 len, gboolean text, GError **error)
{
  if (!need (r, len, error))
    return FALSE;
  if (text && !g_utf8_validate ((const char *) r->p, (gssize) len, NULL))
    return torch_error (error, r, "data.pkl holds a string that is not UTF-8 at byte %td",
                        r->p - r->start);
  push (r, new_named (r, V_STR, g_strndup ((const char *) r->p, len)));
  r->p += len;
  return TRUE;
}

static gboolean
read_line (Reader *r, char **out, GError **error)
{
  const guint8 *nl = memchr (r->p, '\n', (gsize) (r->end - r->p));
  if (!nl)
    return torch_error (error, r, "data.pkl ends inside a name: truncated");
  *out = g_strndup ((const char *) r->p, (gsize) (nl - r->p));
  r->p = nl + 1;
  return TRUE;
}

static gboolean
memo_put (Reader *r, guint64 index, GError **error)
{
  Value *v = top (r, error);
  if (!v)
    return FALSE;
  g_hash_table_insert (r->memo, g_memdup2 (&index, sizeof index), v);
  return TRUE;
}

static gboolean
memo_get (Reader *r, guint64 index, GError **error)
{
  Value *v = g_hash_table_lookup (r->memo, &index);
  if (!v)
    return torch_error (error, r, "data.pkl recalls memo %" G_GUINT64_FORMAT ", never stored",
                        index);
  push (r, v);
  return TRUE;
}

/* SETITEM(S) and APPEND(S) onto `target`; onto an object (a class the pickle named) they
 * change nothing here. */
static gboolean
add_items (Reader *r, Value *target, GPtrArray *items, gboolean pairs, GError **error)
{
  gboolean ok = TRUE;
  if (pairs && items->len % 2)
    ok = torch_error (error, r, "data.pkl sets a key without a value");
  else if (target->kind == (pairs ? V_DICT : V_LIST))
    for (guint i = 0; i < items->len; i++)
      g_ptr_array_add (target->items, items->pdata[i]);
  else if (target->kind != V_OBJECT)
    ok = torch_error (error, r, "data.pkl adds items to %s", kind_name (target));
  g_ptr_array_free (items, TRUE);
  return ok;
}

static Value *
make_sequence (Reader *r, Kind kind, GPtrArray *items)
{
  Value *v = new_value (r, kind);
  for (guint i = 0; i < items->len; i++)
    g_ptr_array_add (v->items, items->pdata[i]);
  g_ptr_array_free (items, TRUE);
  return v;
}

/* One opcode; *done once STOP left the result in *result. */
static gboolean
step (Reader *r, Value **result, GError **error)
{
  guint8 op = *r->p++;
  Value *a, *b;
  GPtrArray *items;
  guint64 n;
  switch (op) {
  case 0x80: /* PROTO */
    if (!need (r, 1, error))
      return FALSE;
    if (*r->p > 5)
      return torch_error (error, r, "data.pkl is pickle protocol %u (heed reads 2 to 5)", *r->p);
    r->p++;
    return TRUE;
  case 0x95: /* FRAME: a length to prefetch, nothing to do */
    if (!need (r, 8, error))
      return FALSE;
    r->p += 8;
    return TRUE;
  case '.': /* STOP */ return (*result = pop (r, error)) != NULL;
  case '(': push (r, new_value (r, V_MARK)); return TRUE;
  case 'N': push (r, new_value (r, V_NONE)); return TRUE;
  case 0x88: /* NEWTRUE */
  case 0x89: /* NEWFALSE */
    push (r, new_value (r, V_INT));
    ((Value *) top (r, error))->i = op == 0x88;
    return TRUE;
  case 'J': /* BININT */
  case 'K': /* BININT1 */
  case 'M': /* BININT2 */
    n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
    if (!need (r, n, error))
      return FALSE;
    a = new_value (r, V_INT);
    a->i = op == 'J' ? (gint32) le32 (r->p) : op == 'K' ? *r->p : le16 (r->p);
    r->p += n;
    push (r, a);
    return TRUE;
  case 0x8a: /* LONG1: little-endian two's complement */
  case 0x8b: /* LONG4 */
    if (!need (r, op == 0x8a ? 1 : 4, error))
      return FALSE;
    n = op == 0x8a ? *r->p : le32 (r->p);
    r->p += op == 0x8a ? 1 : 4;
    if (n > 8)
      return torch_error (error, r, "data.pkl holds a %" G_GUINT64_FORMAT "-byte integer", n);
    if (!need (r, n, error))
      return FALSE;
    a = new_value (r, V_INT);
    for (guint64 i = 0; i < n; i++)
      a->i |= (gint64) ((guint64) r->p[i] << (8 * i));
    if (n > 0 && n < 8 && (r->p[n - 1] & 0x80))
      a->i -= (gint64) (G_GUINT64_CONSTANT (1) << (8 * n));
    r->p += n;
    push (r, a);
    return TRUE;
  case 'G': /* BINFLOAT: big-endian double, kept only as a value that is there */
    if (!need (r, 8, error))
      return FALSE;
    r->p += 8;
    push (r, new_value (r, V_FLOAT));
    return TRUE;
  case 'X':  /* BINUNICODE */
  case 'T':  /* BINSTRING */
  case 'B':  /* BINBYTES */
  case 0x8c: /* SHORT_BINUNICODE */
  case 'U':  /* SHORT_BINSTRING */
  case 'C':  /* SHORT_BINBYTES */
  case 0x8d: /* BINUNICODE8 */
  case 0x8e: /* BINBYTES8 */
    n = op == 0x8c || op == 'U' || op == 'C' ? 1 : op == 0x8d || op == 0x8e ? 8 : 4;
    if (!need (r, n, error))
      return FALSE;
    n = n == 1 ? *r->p : n == 4 ? le32 (r->p) : le64 (r->p);
    r->p += op == 0x8c || op == 'U' || op == 'C' ? 1 : op == 0x8d || op == 0x8e ? 8 : 4;
    return read_string (r, n, op == 'X' || op == 0x8c || op == 0x8d, error);
  case ')': push (r, new_value (r, V_TUPLE)); return TRUE;
  case ']': push (r, new_value (r, V_LIST)); return TRUE;
  case '}': push (r, new_value (r, V_DICT)); return TRUE;
  case 0x8f: /* EMPTY_SET */
    push (r, new_named (r, V_OBJECT, g_strdup ("builtins.set")));
    return TRUE;
  case 't':  /* TUPLE */
  case 'l':  /* LIST */
  case 'd':  /* DICT */
  case 0x91: /* FROZENSET */
    if (!(items = pop_mark (r, error)))
      return FALSE;
    if (op == 'd' && items->len % 2) {
      g_ptr_array_free (items, TRUE);
      return torch_error (error, r, "data.pkl makes a dict of an odd number of items");
    }
    if (op == 0x91) {
      g_ptr_array_free (items, TRUE);
      push (r, new_named (r, V_OBJECT, g_strdup ("builtins.frozenset")));
    } else
      push (r, make_sequence (r, op == 't' ? V_TUPLE : op == 'l' ? V_LIST : V_DICT, items));
    return TRUE;
  case 0x85: /* TUPLE1 */
  case 0x86: /* TUPLE2 */
  case 0x87: /* TUPLE3 */
    items = g_ptr_array_new ();
    for (guint i = 0; i < (guint) (op - 0x84); i++) {
      if (!(a = pop (r, error))) {
        g_ptr_array_free (items, TRUE);
        return FALSE;
      }
      g_ptr_array_insert (items, 0, a);
    }
    push (r, make_sequence (r, V_TUPLE, items));
    return TRUE;
  case 'a': /* APPEND */
  case 's': /* SETITEM */
    items = g_ptr_array_new ();
    for (guint i = 0; i < (op == 's' ? 2u : 1u); i++) {
      if (!(a = pop (r, error))) {
        g_ptr_array_free (items, TRUE);
        return FALSE;
      }
      g_ptr_array_insert (items, 0, a);
    }
    if (!(b = top (r, error))) {
      g_ptr_array_free (items, TRUE);
      return FALSE;
    }
    return add_items (r, b, items, op == 's', error);
  case 'e':  /* APPENDS */
  case 'u':  /* SETITEMS */
  case 0x90: /* ADDITEMS (to a set) */
    if (!(items = pop_mark (r, error)))
      return FALSE;
    if (!(b = top (r, error))) {
      g_ptr_array_free (items, TRUE);
      return FALSE;
    }
    if (op == 0x90) {
      g_ptr_array_free (items, TRUE);
      return TRUE;
    }
    return add_items (r, b, items, op == 'u', error);
  case '0': /* POP */ return pop (r, error) != NULL;
  case '1': /* POP_MARK */
    if (!(items = pop_mark (r, error)))
      return FALSE;
    g_ptr_array_free (items, TRUE);
    return TRUE;
  case '2': /* DUP */
    if (!(a = top (r, error)))
      return FALSE;
    push (r, a);
    return TRUE;
  case 'c': { /* GLOBAL: "module\nname\n" */
    char *module, *name;
    if (!read_line (r, &module, error))
      return FALSE;
    if (!read_line (r, &name, error)) {
      g_free (module);
      return FALSE;
    }
    push (r, new_named (r, V_GLOBAL, g_strconcat (module, ".", name, NULL)));
    g_free (module), g_free (name);
    if (!g_utf8_validate (((Value *) top (r, error))->s, -1, NULL))
      return torch_error (error, r, "data.pkl names a class that is not UTF-8");
    return TRUE;
  }
  case 0x93: /* STACK_GLOBAL */
    if (!(b = pop (r, error)) || !(a = pop (r, error)))
      return FALSE;
    if (a->kind != V_STR || b->kind != V_STR)
      return torch_error (error, r, "data.pkl names a class by something other than strings");
    push (r, new_named (r, V_GLOBAL, g_strconcat (a->s, ".", b->s, NULL)));
    return TRUE;
  case 'R': /* REDUCE: callable, args */
    if (!(b = pop (r, error)) || !(a = pop (r, error)))
      return FALSE;
    if (!(a = apply (r, a, b, error)))
      return FALSE;
    push (r, a);
    return TRUE;
  case 0x81: /* NEWOBJ: class, args */
  case 0x92: /* NEWOBJ_EX: class, args, kwargs */
    if (op == 0x92 && !pop (r, error))
      return FALSE;
    if (!(b = pop (r, error)) || !(a = pop (r, error)))
      return FALSE;
    push (r, new_named (r, V_OBJECT, g_strdup (a->kind == V_GLOBAL ? a->s : "an object")));
    return TRUE;
  case 'b': /* BUILD: an object's state (a state dict's _metadata), not needed */
    return pop (r, error) && top (r, error);
  case 'Q': /* BINPERSID: a storage */
    if (!(a = pop (r, error)))
      return FALSE;
    {
      const Storage *s = storage_for (r, a, error);
      if (!s)
        return FALSE;
      b = new_value (r, V_STORAGE);
      b->storage = s;
      push (r, b);
    }
    return TRUE;
  case 'q': /* BINPUT */
  case 'r': /* LONG_BINPUT */
  case 'h': /* BINGET */
  case 'j': /* LONG_BINGET */
    n = op == 'q' || op == 'h' ? 1 : 4;
    if (!need (r, n, error))
      return FALSE;
    n = n == 1 ? *r->p : le32 (r->p);
    r->p += op == 'q' || op == 'h' ? 1 : 4;
    return op == 'q' || op == 'r' ? memo_put (r, n, error) : memo_get (r, n, error);
  case 0x94: /* MEMOIZE */ return memo_put (r, g_hash_table_size (r->memo), error);
  default:
    return torch_error (error, r,
                        "data.pkl uses pickle opcode 0x%02x at byte %td, which torch.save does "
                        "not write",
                        op, r->p - r->start - 1);
  }
}

static gboolean
has_tensors (const Value *dict)
{
  for (guint i = 0; dict && dict->kind == V_DICT && i + 1 < dict->items->len; i += 2)
    if (((Value *) dict->items->pdata[i + 1])->kind == V_TENSOR)
      return TRUE;
  return FALSE;
}

/* The state dict: the pickled dict itself, or, in a training checkpoint, the one under a
 * conventional key, in the order timm's load_checkpoint looks: its EMA weights first (timm's
 * train.py "state_dict_ema", DeiT's "model_ema"), then "state_dict" (Lightning's, timm's) and
 * "model" (DeiT's, MAE's); then DINO's, iBOT's and DINOv2's "teacher", which their own
 * evaluation loads. */
static const Value *
state_dict (const Value *root)
{
  static const char *const keys[] = { "state_dict_ema", "model_ema",        "state_dict", "model",
                                      "module",         "model_state_dict", "teacher" };
  if (has_tensors (root))
    return root;
  for (guint k = 0; k < G_N_ELEMENTS (keys) && root->kind == V_DICT; k++)
    for (guint i = 0; i + 1 < root->items->len; i += 2) {
      const Value *key = root->items->pdata[i], *v = root->items->pdata[i + 1];
      if (key->kind == V_STR && strcmp (key->s, keys[k]) == 0 && has_tensors (v))
        return v;
    }
  return NULL;
}

gboolean
heed_torch_is_checkpoint (const guint8 *data, gsize size)
{
  return size >= 4 && memcmp (data, "PK\x03\x04", 4) == 0;
}

gboolean
heed_torch_is_legacy (const guint8 *data, gsize size)
{
  /* torch.save's format before 1.6: a pickle protocol 2 whose first value is the magic number
   * 0x1950a86a20f9469cfc6c (a 10-byte LONG1) */
  return size >= 4 && data[0] == 0x80 && data[1] == 0x02 && data[2] == 0x8a && data[3] == 0x0a;
}

/* A training checkpoint's "arch" (timm's train.py: the model's name), beside its state dict */
static char *
checkpoint_arch (const Value *root, const Value *dict)
{
  for (guint i = 0; root != dict && root->kind == V_DICT && i + 1 < root->items->len; i += 2) {
    const Value *key = root->items->pdata[i], *v = root->items->pdata[i + 1];
    if (key->kind == V_STR && strcmp (key->s, "arch") == 0 && v->kind == V_STR)
      return g_strdup (v->s);
  }
  return NULL;
}

GPtrArray *
heed_torch_read (const guint8 *data, gsize size, const char *source, char **arch, GError **error)
{
  Reader r = {
    .source = source,
    .file = data,
    .file_size = size,
    .entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
    .stack = g_ptr_array_new (),
    .memo = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL),
    .values = g_ptr_array_new_with_free_func (value_free),
    .storages = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
    .tensors = g_ptr_array_new_with_free_func (tensor_free),
  };
  GPtrArray *out = NULL;
  Value *root = NULL;
  const ZipEntry *pkl;
  if (arch)
    *arch = NULL;
  char *pkl_name = NULL;

  if (!read_zip (&r, error) || !find_pickle (&r, error))
    goto done;
  pkl_name = g_strconcat (r.prefix, "data.pkl", NULL);
  if (!(pkl = zip_entry (&r, pkl_name, error)))
    goto done;
  r.start = r.p = data + pkl->offset;
  r.end = r.p + pkl->size;
  while (!root) {
    if (r.p >= r.end) {
      torch_error (error, &r, "data.pkl ends before its STOP: truncated");
      goto done;
    }
    if (!step (&r, &root, error))
      goto done;
  }
  const Value *dict = state_dict (root);
  if (!dict) {
    if (root->kind == V_OBJECT || root->kind == V_GLOBAL)
      torch_error (error, &r,
                   "the checkpoint pickles a %s object, not a state dict (save "
                   "model.state_dict(), or convert it to safetensors)",
                   root->s);
    else
      torch_error (error, &r, "the checkpoint holds %s with no tensors by name, not a state dict",
                   kind_name (root));
    goto done;
  }
  if (arch)
    *arch = checkpoint_arch (root, dict);
  /* the tensors by name, the last of a repeated name kept (found first from the end), then put
   * back in the dict's order */
  GHashTable *seen = g_hash_table_new (g_str_hash, g_str_equal);
  out = g_ptr_array_new_with_free_func (tensor_free);
  for (guint i = dict->items->len & ~1u; i >= 2; i -= 2) {
    const Value *key = dict->items->pdata[i - 2], *v = dict->items->pdata[i - 1];
    if (key->kind != V_STR || v->kind != V_TENSOR || g_hash_table_contains (seen, key->s))
      continue;
    g_hash_table_add (seen, key->s);
    HeedTorchTensor *t = g_new0 (HeedTorchTensor, 1);
    *t = *v->tensor;
    t->name = g_strdup (key->s);
    if (t->owned) /* a copy of its own: two names for one view share the bytes, not the copy */
      t->bytes = t->owned = g_memdup2 (t->owned, t->numel * t->elem_size);
    g_ptr_array_add (out, t);
  }
  g_hash_table_destroy (seen);
  for (guint i = 0; i < out->len / 2; i++) {
    gpointer t = out->pdata[i];
    out->pdata[i] = out->pdata[out->len - 1 - i];
    out->pdata[out->len - 1 - i] = t;
  }
done:
  g_free (pkl_name);
  g_free (r.prefix);
  g_hash_table_destroy (r.entries);
  g_ptr_array_free (r.stack, TRUE);
  g_hash_table_destroy (r.memo);
  g_ptr_array_free (r.values, TRUE);
  g_hash_table_destroy (r.storages);
  g_ptr_array_free (r.tensors, TRUE);
  return out;
}
