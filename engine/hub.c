/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Models by name: `hf:OWNER/NAME[@REVISION]` fetched from the Hugging Face hub into the XDG
 * cache, and used from there, without a network, after that.
 *
 * The hub's API (GET /api/models/OWNER/NAME/revision/REV?blobs=true) names the commit a
 * revision points at and publishes each file's hash: the SHA-256 of large (LFS) files such as
 * the weights, the git blob SHA-1 of small ones such as config.json. Files come from
 * /OWNER/NAME/resolve/COMMIT/FILE (the hub redirects the weights to its CDN), are written to
 * a .part file (resumed with a Range request after an interruption), checked against that
 * hash, then renamed into place: a partial or corrupted download is never taken for a model.
 *
 * Cache layout, under $HEED_HUB_CACHE or $XDG_CACHE_HOME/heed/hub:
 *   OWNER--NAME/snapshots/COMMIT/{model.safetensors or pytorch_model.bin, or a sharded
 *                                 checkpoint's index and its shards (but those of a language
 *                                 model beside an image tower), or OpenCLIP's
 *                                 open_clip_model.safetensors or open_clip_pytorch_model.bin
 *                                 and open_clip_config.json; config.json,
 *                                 preprocessor_config.json}
 *   OWNER--NAME/refs/REVISION       the commit, written once the snapshot is complete
 *   OWNER--NAME/partial/HASH.part   downloads in progress */
#include "heed-private.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#define HUB_PREFIX "hf:"
#define DEFAULT_ENDPOINT "https://huggingface.co"
#define MAX_API_BYTES (16u << 20)
#define MAX_ATTEMPTS 4 /* a transfer that breaks off is resumed this many times in all */

/* The files heed reads: the weights, the first the repository has of HEED_WEIGHTS_FILES (a
 * sharded checkpoint's index brings the shards it names), and the configs that say what the
 * model is and how to prepare frames (OpenCLIP's with its weights). */
enum {
  SAFETENSORS,
  SAFETENSORS_INDEX,
  TORCH_CHECKPOINT,
  TORCH_INDEX,
  OPEN_CLIP_SAFETENSORS,
  OPEN_CLIP_TORCH,
  N_WEIGHTS,
  OPEN_CLIP_CONFIG = N_WEIGHTS + 2 /* fetched with OpenCLIP's weights only */
};
static const char *const wanted_files[] = { HEED_WEIGHTS_FILES, "config.json",
                                            "preprocessor_config.json", "open_clip_config.json" };
G_STATIC_ASSERT (G_N_ELEMENTS (wanted_files) == N_WEIGHTS + 3);

typedef struct {
  char *owner, *name, *revision;
} HubName;

static void
hub_name_clear (HubName *n)
{
  g_free (n->owner), g_free (n->name), g_free (n->revision);
}

/* The hub's own character set for owners, names and revisions; nothing that could name a
 * path outside the cache ("..", "/", a leading dot) passes. */
static gboolean
valid_part (const char *s, gsize max)
{
  gsize len = strlen (s);
  /* the hub refuses ".." and "--" in names as well ("--" separates owner and name here) */
  if (len == 0 || len > max || s[0] == '.' || s[0] == '-' || strstr (s, "..") || strstr (s, "--"))
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

static gboolean
is_commit (const char *s)
{
  if (!s || strlen (s) != 40)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* The other ways a hub model is written, each read as hf:OWNER/NAME[@REVISION]: timm's
 * hf-hub:OWNER/NAME, huggingface_hub's hf://OWNER/NAME[@REVISION], and the repository's address
 * as a browser shows it (https://huggingface.co/OWNER/NAME, with /tree/REVISION, or a file's
 * /blob/REVISION/FILE or /resolve/REVISION/FILE) */
static const char *const web_prefixes[] = { "https://huggingface.co/", "http://huggingface.co/",
                                            "https://hf.co/", "http://hf.co/" };

/* The part after the prefix, or NULL when the name has none of them */
static const char *
after_prefix (const char *model, gboolean *web)
{
  *web = FALSE;
  if (!model)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (web_prefixes); i++)
    if (g_str_has_prefix (model, web_prefixes[i]))
      return *web = TRUE, model + strlen (web_prefixes[i]);
  if (g_str_has_prefix (model, "hf://"))
    return model + strlen ("hf://");
  if (g_str_has_prefix (model, "hf-hub:"))
    return model + strlen ("hf-hub:");
  if (g_str_has_prefix (model, HUB_PREFIX))
    return model + strlen (HUB_PREFIX);
  return NULL;
}

gboolean
heed_hub_is_name (const char *model)
{
  gboolean web;
  return after_prefix (model, &web) != NULL;
}

/* OWNER/NAME[@REVISION] of a web address: OWNER/NAME, then nothing, "/tree/REVISION" or a
 * file's "/blob/REVISION/..." or "/resolve/REVISION/..."; a trailing slash, a query or a
 * fragment left out. NULL for any other page of the site. */
static char *
web_spec (const char *path)
{
  char *clean = g_strndup (path, strcspn (path, "?#"));
  char **parts = g_strsplit (clean, "/", -1);
  guint n = g_strv_length (parts);
  while (n > 0 && !*parts[n - 1]) /* trailing slashes */
    n--;
  char *spec = NULL;
  if (n == 2)
    spec = g_strdup_printf ("%s/%s", parts[0], parts[1]);
  else if (n >= 4 && (strcmp (parts[2], "tree") == 0
                          ? n == 4
                          : strcmp (parts[2], "blob") == 0 || strcmp (parts[2], "resolve") == 0))
    spec = g_strdup_printf ("%s/%s@%s", parts[0], parts[1], parts[3]);
  g_strfreev (parts);
  g_free (clean);
  return spec;
}

static gboolean parse_name (const char *model, HubName *n, GError **error);

gboolean
heed_hub_could_be_repo (const char *path)
{
  if (!path || strchr (path, ':')) /* a hub name (every form has a colon) or a URL */
    return FALSE;
  char *name = g_strconcat (HUB_PREFIX, path, NULL);
  HubName n;
  gboolean ok = parse_name (name, &n, NULL);
  if (ok)
    hub_name_clear (&n);
  g_free (name);
  return ok;
}

static gboolean
parse_name (const char *model, HubName *n, GError **error)
{
  gboolean web;
  const char *after = after_prefix (model, &web);
  char *owned = web && after ? web_spec (after) : NULL;
  const char *spec = owned ? owned : after ? after : "";
  const char *at = strchr (spec, '@'), *slash = strchr (spec, '/');
  memset (n, 0, sizeof *n);
  if (slash && (!at || slash < at)) {
    n->owner = g_strndup (spec, (gsize) (slash - spec));
    n->name = at ? g_strndup (slash + 1, (gsize) (at - slash - 1)) : g_strdup (slash + 1);
  }
  n->revision = g_strdup (at ? at + 1 : "main");
  g_free (owned);
  if (!n->owner || !valid_part (n->owner, 96) || !valid_part (n->name, 96) ||
      !valid_part (n->revision, 128)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "%s is not a hub model name: hf:OWNER/NAME or hf:OWNER/NAME@REVISION, each of "
                 "letters, digits, '-', '_' and '.' (or the repository's address, "
                 "https://huggingface.co/OWNER/NAME)",
                 model);
    hub_name_clear (n);
    return FALSE;
  }
  return TRUE;
}

char *
heed_hub_cache_dir (void)
{
  const char *env = g_getenv ("HEED_HUB_CACHE");
  if (env && *env)
    return g_strdup (env);
  return g_build_filename (g_get_user_cache_dir (), "heed", "hub", NULL);
}

static char *
repo_dir (const HubName *n)
{
  char *cache = heed_hub_cache_dir ();
  char *repo = g_strdup_printf ("%s--%s", n->owner, n->name);
  char *dir = g_build_filename (cache, repo, NULL);
  g_free (cache), g_free (repo);
  return dir;
}

/* The snapshot a cached revision points at, or NULL. */
static char *
cached_weights (const HubName *n)
{
  char *dir = repo_dir (n), *commit = NULL, *weights = NULL;
  if (is_commit (n->revision)) {
    commit = g_strdup (n->revision);
  } else {
    char *ref = g_build_filename (dir, "refs", n->revision, NULL);
    if (g_file_get_contents (ref, &commit, NULL, NULL))
      g_strstrip (commit);
    g_free (ref);
  }
  for (guint w = 0; w < N_WEIGHTS && is_commit (commit) && !weights; w++) {
    weights = g_build_filename (dir, "snapshots", commit, wanted_files[w], NULL);
    if (!g_file_test (weights, G_FILE_TEST_IS_REGULAR))
      g_clear_pointer (&weights, g_free);
    /* a revision given as a commit is complete only once some ref names it */
    if (weights && is_commit (n->revision)) {
      char *marker = g_build_filename (dir, "snapshots", commit, ".complete", NULL);
      if (!g_file_test (marker, G_FILE_TEST_EXISTS))
        g_clear_pointer (&weights, g_free);
      g_free (marker);
    }
  }
  g_free (commit), g_free (dir);
  return weights;
}

/* ---- HTTP ---- */

typedef struct {
  CURL *curl;
  char *endpoint;
  gboolean loopback_http; /* a test server on this machine */
  struct curl_slist *headers;
  char errbuf[CURL_ERROR_SIZE];
} Http;

static gsize
curl_init_once (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    g_once_init_leave (&done, curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK ? 1 : 2);
  return done;
}

/* HTTPS to the hub (HEED_HUB_ENDPOINT may name a mirror); plain HTTP only to this machine. */
static gboolean
http_init (Http *h, const HubName *n, GError **error)
{
  const char *env = g_getenv ("HEED_HUB_ENDPOINT");
  memset (h, 0, sizeof *h);
  h->endpoint = g_strdup (env && *env ? env : DEFAULT_ENDPOINT);
  while (g_str_has_suffix (h->endpoint, "/"))
    h->endpoint[strlen (h->endpoint) - 1] = '\0';
  static const char *const loopback[] = { "http://127.0.0.1:", "http://localhost:",
                                          "http://[::1]:" };
  for (guint i = 0; i < G_N_ELEMENTS (loopback); i++)
    h->loopback_http = h->loopback_http || g_str_has_prefix (h->endpoint, loopback[i]);
  if (!g_str_has_prefix (h->endpoint, "https://") && !h->loopback_http) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_INVALID,
                 "HEED_HUB_ENDPOINT %s must be https:// (plain http only to 127.0.0.1, localhost "
                 "or [::1], with a port)",
                 h->endpoint);
    return FALSE;
  }
  if (curl_init_once () != 1 || !(h->curl = curl_easy_init ())) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot start an HTTP client to fetch hf:%s/%s",
                 n->owner, n->name);
    return FALSE;
  }
  const char *token = g_getenv ("HF_TOKEN");
  if (token && *token) { /* gated and private repositories; curl drops it on other hosts */
    char *auth = g_strdup_printf ("Authorization: Bearer %s", token);
    h->headers = curl_slist_append (h->headers, auth);
    g_free (auth);
  }
  return TRUE;
}

static void
http_clear (Http *h)
{
  if (h->curl)
    curl_easy_cleanup (h->curl);
  curl_slist_free_all (h->headers);
  g_free (h->endpoint);
}

/* Options every request shares: certificate checks stay on (curl's default), redirects only
 * to HTTPS (the CDN), a stalled transfer ends instead of hanging. */
static void
http_reset (Http *h, const char *url)
{
  CURL *c = h->curl;
  curl_easy_reset (c);
  curl_easy_setopt (c, CURLOPT_URL, url);
  curl_easy_setopt (c, CURLOPT_USERAGENT, "heed/" HEED_VERSION);
  curl_easy_setopt (c, CURLOPT_HTTPHEADER, h->headers);
  curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, h->loopback_http ? "http,https" : "https");
  curl_easy_setopt (c, CURLOPT_REDIR_PROTOCOLS_STR, h->loopback_http ? "http,https" : "https");
  curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (c, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt (c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (c, CURLOPT_ERRORBUFFER, h->errbuf);
  h->errbuf[0] = '\0';
}

static const char *
http_error (Http *h, CURLcode code)
{
  return h->errbuf[0] ? h->errbuf : curl_easy_strerror (code);
}

static gboolean
unreachable (CURLcode code)
{
  return code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT ||
         code == CURLE_COULDNT_RESOLVE_PROXY || code == CURLE_OPERATION_TIMEDOUT;
}

static size_t
collect (char *data, size_t size, size_t n, void *user)
{
  GByteArray *out = user;
  if (out->len + size * n > MAX_API_BYTES)
    return 0; /* ends the transfer */
  g_byte_array_append (out, (const guint8 *) data, (guint) (size * n));
  return size * n;
}

/* ---- the API: the commit and each file's hash ---- */

typedef struct {
  const char *name;
  gboolean present;
  guint64 size;
  char *hash;        /* lowercase hex */
  GChecksumType sum; /* SHA-256 for LFS files, the git blob SHA-1 for the others */
} HubFile;

static void
hub_file_free (gpointer p)
{
  HubFile *f = p;
  g_free ((char *) f->name);
  g_free (f->hash);
  g_free (f);
}

/* The listing's files: the ones heed wants into files[], every other one with a hash and a size
 * into others (name -> HubFile: a sharded checkpoint's shards are among them) */
static gboolean
read_listing (const HubName *n, const char *body, gsize len, char **commit, HubFile files[],
              GHashTable *others, GError **error)
{
  JsonParser *p = json_parser_new ();
  gboolean ok = FALSE;
  if (!json_parser_load_from_data (p, body, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p))) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "the hub's answer for hf:%s/%s is not JSON",
                 n->owner, n->name);
    goto out;
  }
  JsonObject *root = json_node_get_object (json_parser_get_root (p));
  const char *sha = json_object_has_member (root, "sha")
                        ? json_node_get_string (json_object_get_member (root, "sha"))
                        : NULL;
  JsonNode *siblings =
      json_object_has_member (root, "siblings") ? json_object_get_member (root, "siblings") : NULL;
  if (!is_commit (sha) || !siblings || !JSON_NODE_HOLDS_ARRAY (siblings)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                 "the hub's answer for hf:%s/%s names no commit or files", n->owner, n->name);
    goto out;
  }
  *commit = g_strdup (sha);
  JsonArray *a = json_node_get_array (siblings);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    if (!JSON_NODE_HOLDS_OBJECT (e))
      continue;
    JsonObject *o = json_node_get_object (e);
    const char *fname = json_object_get_string_member_with_default (o, "rfilename", "");
    JsonObject *lfs = json_object_has_member (o, "lfs") &&
                              JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "lfs"))
                          ? json_object_get_object_member (o, "lfs")
                          : NULL;
    const char *hash = lfs ? json_object_get_string_member_with_default (lfs, "sha256", NULL)
                           : json_object_get_string_member_with_default (o, "blobId", NULL);
    gint64 size = json_object_get_int_member_with_default (lfs ? lfs : o, "size", -1);
    gboolean described = hash && strlen (hash) == (lfs ? 64u : 40u) && size >= 0;
    HubFile *f = NULL;
    for (guint w = 0; w < G_N_ELEMENTS (wanted_files) && !f; w++)
      if (g_str_equal (fname, files[w].name))
        f = &files[w];
    if (f && !described) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                   "the hub publishes no hash or size for %s of hf:%s/%s", fname, n->owner,
                   n->name);
      goto out;
    }
    if (!described || (!f && (!*fname || g_hash_table_contains (others, fname))))
      continue;
    if (!f) {
      f = g_new0 (HubFile, 1);
      f->name = g_strdup (fname);
      g_hash_table_insert (others, (gpointer) f->name, f);
    }
    f->present = TRUE;
    f->size = (guint64) size;
    f->hash = g_ascii_strdown (hash, -1);
    f->sum = lfs ? G_CHECKSUM_SHA256 : G_CHECKSUM_SHA1;
  }
  ok = TRUE;
out:
  g_object_unref (p);
  return ok;
}

static gboolean
fetch_listing (Http *h, const HubName *n, char **commit, HubFile files[], GHashTable *others,
               GError **error)
{
  char *url = g_strdup_printf ("%s/api/models/%s/%s/revision/%s?blobs=true", h->endpoint, n->owner,
                               n->name, n->revision);
  GByteArray *body = g_byte_array_new ();
  http_reset (h, url);
  curl_easy_setopt (h->curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt (h->curl, CURLOPT_WRITEDATA, body);
  CURLcode code = curl_easy_perform (h->curl);
  long status = 0;
  curl_easy_getinfo (h->curl, CURLINFO_RESPONSE_CODE, &status);
  gboolean ok = FALSE;
  char *cache = heed_hub_cache_dir ();
  if (code != CURLE_OK && unreachable (code)) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                 "cannot reach %s to fetch hf:%s/%s@%s, and it is not in the cache (%s): %s",
                 h->endpoint, n->owner, n->name, n->revision, cache, http_error (h, code));
  } else if (status == 401 || status == 403 || status == 404) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                 "the hub has no model hf:%s/%s at revision %s (HTTP %ld; a gated or private "
                 "one needs HF_TOKEN)",
                 n->owner, n->name, n->revision, status);
  } else if (code != CURLE_OK) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "fetching hf:%s/%s from %s failed: %s", n->owner,
                 n->name, h->endpoint, http_error (h, code));
  } else {
    ok = read_listing (n, (const char *) body->data, body->len, commit, files, others, error);
  }
  g_free (cache);
  g_free (url);
  g_byte_array_free (body, TRUE);
  return ok;
}

/* ---- one file ---- */

typedef struct {
  FILE *out;
  GChecksum *sum;
  guint64 written, limit;
  HeedHubProgress progress;
  gpointer progress_data;
  const char *name;
  guint64 offset, total; /* for progress: the bytes before this transfer, and the file's */
} Download;

static size_t
write_part (char *data, size_t size, size_t n, void *user)
{
  Download *d = user;
  size_t bytes = size * n;
  if (d->written + bytes > d->limit) /* more than the hub said the file holds */
    return 0;
  if (fwrite (data, 1, bytes, d->out) != bytes)
    return 0;
  g_checksum_update (d->sum, (const guchar *) data, (gssize) bytes);
  d->written += bytes;
  return bytes;
}

static int
report (void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  Download *d = user;
  (void) dltotal, (void) ultotal, (void) ulnow;
  if (d->progress)
    d->progress (d->name, d->offset + (guint64) dlnow, d->total, d->progress_data);
  return 0;
}

/* Hashes what a partial file holds so far (a resumed download continues the same hash). */
static gboolean
hash_existing (const char *path, GChecksum *sum, guint64 *bytes)
{
  FILE *f = fopen (path, "rb");
  guchar buf[1 << 16];
  size_t got;
  *bytes = 0;
  if (!f)
    return FALSE;
  while ((got = fread (buf, 1, sizeof buf, f)) > 0) {
    g_checksum_update (sum, buf, (gssize) got);
    *bytes += got;
  }
  fclose (f);
  return TRUE;
}

/* The git blob SHA-1 hashes "blob <size>\0" before the contents. */
static GChecksum *
new_sum (const HubFile *f)
{
  GChecksum *sum = g_checksum_new (f->sum);
  if (f->sum == G_CHECKSUM_SHA1) {
    char head[64];
    int len = g_snprintf (head, sizeof head, "blob %" G_GUINT64_FORMAT, f->size);
    g_checksum_update (sum, (const guchar *) head, len + 1);
  }
  return sum;
}

static gboolean
fetch_file (Http *h, const HubName *n, const char *commit, const HubFile *f, const char *dest,
            HeedHubProgress progress, gpointer data, GError **error)
{
  char *dir = repo_dir (n);
  char *partial_dir = g_build_filename (dir, "partial", NULL);
  char *part_name = g_strdup_printf ("%s.part", f->hash);
  char *part = g_build_filename (partial_dir, part_name, NULL);
  char *url =
      g_strdup_printf ("%s/%s/%s/resolve/%s/%s", h->endpoint, n->owner, n->name, commit, f->name);
  gboolean ok = FALSE;
  GChecksum *sum = NULL;
  if (g_mkdir_with_parents (partial_dir, 0700) != 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot create %s: %s", partial_dir,
                 g_strerror (errno));
    goto out;
  }
  for (guint attempt = 0; attempt < MAX_ATTEMPTS && !ok; attempt++) {
    guint64 have = 0;
    if (sum)
      g_checksum_free (sum);
    sum = new_sum (f);
    hash_existing (part, sum, &have);
    if (have > f->size) { /* not this file: start again */
      g_unlink (part);
      g_checksum_free (sum);
      sum = new_sum (f);
      have = 0;
    }
    Download d = { .sum = sum,
                   .limit = f->size - have,
                   .progress = progress,
                   .progress_data = data,
                   .name = f->name,
                   .offset = have,
                   .total = f->size };
    if (have < f->size) {
      if (!(d.out = fopen (part, "ab"))) {
        g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot write %s: %s", part,
                     g_strerror (errno));
        goto out;
      }
      http_reset (h, url);
      curl_easy_setopt (h->curl, CURLOPT_WRITEFUNCTION, write_part);
      curl_easy_setopt (h->curl, CURLOPT_WRITEDATA, &d);
      curl_easy_setopt (h->curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt (h->curl, CURLOPT_XFERINFOFUNCTION, report);
      curl_easy_setopt (h->curl, CURLOPT_XFERINFODATA, &d);
      if (have > 0) {
        heed_log (HEED_LOG_INFO,
                  "hf:%s/%s: resuming %s at %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " bytes",
                  n->owner, n->name, f->name, have, f->size);
        curl_easy_setopt (h->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t) have);
      }
      CURLcode code = curl_easy_perform (h->curl);
      long status = 0;
      curl_easy_getinfo (h->curl, CURLINFO_RESPONSE_CODE, &status);
      gboolean closed = fclose (d.out) == 0;
      if (code == CURLE_RANGE_ERROR || (have > 0 && code == CURLE_OK && status == 200)) {
        /* the server would not resume (or sent the whole file anyway): start again */
        g_unlink (part);
        g_clear_error (error);
        g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                     "downloading %s of hf:%s/%s: the server would not resume it", f->name,
                     n->owner, n->name);
        continue;
      }
      if (code != CURLE_OK || !closed) {
        g_clear_error (error);
        g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "downloading %s of hf:%s/%s failed: %s",
                     f->name, n->owner, n->name, closed ? http_error (h, code) : "disk full?");
        if (status >= 400) /* an answer, not an interruption: no point resuming */
          break;
        continue;
      }
      if (have + d.written < f->size) {
        g_clear_error (error);
        g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                     "downloading %s of hf:%s/%s ended after %" G_GUINT64_FORMAT
                     " of %" G_GUINT64_FORMAT " bytes",
                     f->name, n->owner, n->name, have + d.written, f->size);
        continue;
      }
    }
    if (g_strcmp0 (g_checksum_get_string (sum), f->hash) != 0) {
      g_clear_error (error);
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                   "%s of hf:%s/%s does not match the hub's %s (%s, want %s): not used", f->name,
                   n->owner, n->name, f->sum == G_CHECKSUM_SHA256 ? "SHA-256" : "git SHA-1",
                   g_checksum_get_string (sum), f->hash);
      g_unlink (part);
      goto out;
    }
    if (g_rename (part, dest) != 0) {
      g_clear_error (error);
      g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot move %s to %s: %s", part, dest,
                   g_strerror (errno));
      goto out;
    }
    g_clear_error (error);
    ok = TRUE;
  }
out:
  if (sum)
    g_checksum_free (sum);
  g_free (dir), g_free (partial_dir), g_free (part_name), g_free (part), g_free (url);
  return ok;
}

/* Writes path atomically (a temporary file renamed over it). */
static gboolean
write_atomically (const char *path, const char *contents, GError **error)
{
  char *dir = g_path_get_dirname (path);
  gboolean ok =
      g_mkdir_with_parents (dir, 0700) == 0 && g_file_set_contents (path, contents, -1, NULL);
  if (!ok)
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot write %s", path);
  g_free (dir);
  return ok;
}

/* The shards a sharded checkpoint's index (fetched into the snapshot) names, fetched beside it:
 * all but those holding only what heed never reads beside an image tower (a vision-language
 * model's language model: most of its bytes) */
static gboolean
fetch_shards (Http *h, const HubName *n, const char *commit, const char *snapshot,
              const char *index, GHashTable *others, HeedHubProgress progress, gpointer data,
              GError **error)
{
  JsonParser *parser;
  JsonObject *map;
  GPtrArray *shards;
  char *index_path = g_build_filename (snapshot, index, NULL);
  gboolean ok = heed_read_shard_index (index_path, &parser, &map, &shards, error);
  guint wanted = 0;
  g_free (index_path);
  for (guint i = 0; ok && i < shards->len; i++) {
    const char *name = shards->pdata[i];
    const HubFile *f = g_hash_table_lookup (others, name);
    if (heed_shard_beside_tower (map, name))
      continue;
    wanted++;
    char *dest = g_build_filename (snapshot, name, NULL);
    if (!f) {
      g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL,
                   "%s of hf:%s/%s names the shard %s, which the repository does not have", index,
                   n->owner, n->name, name);
      ok = FALSE;
    } else { /* a file already in the snapshot was checked before it was moved there */
      ok = g_file_test (dest, G_FILE_TEST_IS_REGULAR) ||
           fetch_file (h, n, commit, f, dest, progress, data, error);
    }
    g_free (dest);
  }
  if (ok && wanted == 0) { /* a language model's repository: nothing heed could run */
    g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL,
                 "hf:%s/%s: the shards %s names hold only a language model, text tower or "
                 "projector (no image tower): none fetched",
                 n->owner, n->name, index);
    ok = FALSE;
  }
  if (shards) {
    g_ptr_array_free (shards, TRUE);
    g_object_unref (parser);
  }
  return ok;
}

static char *
fetch_snapshot (const HubName *n, HeedHubProgress progress, gpointer data, GError **error)
{
  Http h;
  HubFile files[G_N_ELEMENTS (wanted_files)];
  GHashTable *others = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, hub_file_free);
  char *commit = NULL, *weights = NULL, *dir = repo_dir (n), *snapshot = NULL;
  guint chosen = N_WEIGHTS; /* none yet */
  for (guint f = 0; f < G_N_ELEMENTS (wanted_files); f++)
    files[f] = (HubFile){ .name = wanted_files[f] };
  if (!http_init (&h, n, error) || !fetch_listing (&h, n, &commit, files, others, error))
    goto out;
  /* one copy of the weights is enough: the first the repository has */
  for (guint w = 0; w < N_WEIGHTS; w++) {
    if (files[w].present && chosen == N_WEIGHTS)
      chosen = w;
    else
      files[w].present = FALSE;
  }
  if (chosen == N_WEIGHTS) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_MODEL,
                 "hf:%s/%s@%s has no model.safetensors, pytorch_model.bin, sharded "
                 "checkpoint's index (model.safetensors.index.json, "
                 "pytorch_model.bin.index.json) or OpenCLIP weights "
                 "(open_clip_model.safetensors, open_clip_pytorch_model.bin)",
                 n->owner, n->name, n->revision);
    goto out;
  }
  if (chosen != OPEN_CLIP_SAFETENSORS && chosen != OPEN_CLIP_TORCH)
    files[OPEN_CLIP_CONFIG].present = FALSE;
  snapshot = g_build_filename (dir, "snapshots", commit, NULL);
  if (g_mkdir_with_parents (snapshot, 0700) != 0) {
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO, "cannot create %s: %s", snapshot,
                 g_strerror (errno));
    goto out;
  }
  for (guint f = 0; f < G_N_ELEMENTS (wanted_files); f++) {
    char *dest = g_build_filename (snapshot, files[f].name, NULL);
    /* a file already in the snapshot was checked before it was moved there */
    gboolean ok = !files[f].present || g_file_test (dest, G_FILE_TEST_IS_REGULAR) ||
                  fetch_file (&h, n, commit, &files[f], dest, progress, data, error);
    g_free (dest);
    if (!ok)
      goto out;
  }
  if ((chosen == SAFETENSORS_INDEX || chosen == TORCH_INDEX) &&
      !fetch_shards (&h, n, commit, snapshot, wanted_files[chosen], others, progress, data, error))
    goto out;
  char *marker = g_build_filename (snapshot, ".complete", NULL);
  char *ref = g_build_filename (dir, "refs", n->revision, NULL);
  char *line = g_strdup_printf ("%s\n", commit);
  gboolean ok = write_atomically (marker, "", error) && write_atomically (ref, line, error);
  g_free (marker), g_free (ref), g_free (line);
  if (ok)
    weights = g_build_filename (snapshot, wanted_files[chosen], NULL);
out:
  for (guint f = 0; f < G_N_ELEMENTS (wanted_files); f++)
    g_free (files[f].hash);
  g_hash_table_destroy (others);
  http_clear (&h);
  g_free (commit), g_free (dir), g_free (snapshot);
  return weights;
}

static gboolean
offline (void)
{
  static const char *const vars[] = { "HEED_HUB_OFFLINE", "HF_HUB_OFFLINE" };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++) {
    const char *v = g_getenv (vars[i]);
    if (v && *v && !g_str_equal (v, "0"))
      return TRUE;
  }
  return FALSE;
}

char *
heed_hub_resolve (const char *model, HeedHubProgress progress, gpointer data, GError **error)
{
  HubName n;
  if (!heed_hub_is_name (model))
    return g_strdup (model);
  if (!parse_name (model, &n, error))
    return NULL;
  char *weights = cached_weights (&n);
  int lock = -1;
  if (!weights && !offline ()) {
    /* one fetch of a repository at a time (two elements of one pipeline, two processes):
     * the others wait, then find it cached */
    char *dir = repo_dir (&n), *path = g_build_filename (dir, ".lock", NULL);
    if (g_mkdir_with_parents (dir, 0700) == 0 &&
        (lock = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) >= 0) {
      while (flock (lock, LOCK_EX) != 0 && errno == EINTR)
        ;
      weights = cached_weights (&n);
    }
    g_free (dir), g_free (path);
  }
  if (!weights && offline ()) {
    char *cache = heed_hub_cache_dir ();
    g_set_error (error, HEED_ERROR, HEED_ERROR_IO,
                 "%s is not in the cache (%s) and HEED_HUB_OFFLINE or HF_HUB_OFFLINE is set", model,
                 cache);
    g_free (cache);
  } else if (!weights) {
    heed_log (HEED_LOG_INFO, "fetching %s into the cache", model);
    weights = fetch_snapshot (&n, progress, data, error);
  }
  if (lock >= 0)
    close (lock); /* releases the lock */
  hub_name_clear (&n);
  return weights;
}

static guint64
folder_bytes (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *e;
  guint64 total = 0;
  while (d && (e = g_dir_read_name (d))) {
    char *path = g_build_filename (dir, e, NULL);
    GStatBuf st;
    if (g_stat (path, &st) == 0 && S_ISREG (st.st_mode))
      total += (guint64) st.st_size;
    g_free (path);
  }
  if (d)
    g_dir_close (d);
  return total;
}

static gint
entry_order (gconstpointer a, gconstpointer b)
{
  const HeedHubEntry *x = *(HeedHubEntry *const *) a, *y = *(HeedHubEntry *const *) b;
  gint c = g_strcmp0 (x->name, y->name);
  return c ? c : g_strcmp0 (x->revision, y->revision);
}

static void
entry_free (gpointer p)
{
  HeedHubEntry *e = p;
  g_free (e->name), g_free (e->revision), g_free (e->commit), g_free (e->path);
  g_free (e);
}

GPtrArray *
heed_hub_list (void)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (entry_free);
  char *cache = heed_hub_cache_dir ();
  GDir *repos = g_dir_open (cache, 0, NULL);
  const char *repo;
  while (repos && (repo = g_dir_read_name (repos))) {
    const char *sep = strstr (repo, "--");
    if (!sep)
      continue;
    char *refs = g_build_filename (cache, repo, "refs", NULL);
    GDir *d = g_dir_open (refs, 0, NULL);
    const char *rev;
    while (d && (rev = g_dir_read_name (d))) {
      char *ref = g_build_filename (refs, rev, NULL), *commit = NULL;
      if (g_file_get_contents (ref, &commit, NULL, NULL) && is_commit (g_strstrip (commit))) {
        HeedHubEntry *e = g_new0 (HeedHubEntry, 1);
        char *owner = g_strndup (repo, (gsize) (sep - repo));
        e->name = g_strdup_printf ("%s/%s", owner, sep + 2);
        e->revision = g_strdup (rev);
        e->commit = g_strdup (commit);
        e->path = g_build_filename (cache, repo, "snapshots", commit, NULL);
        e->bytes = folder_bytes (e->path);
        g_ptr_array_add (out, e);
        g_free (owner);
      }
      g_free (ref), g_free (commit);
    }
    if (d)
      g_dir_close (d);
    g_free (refs);
  }
  if (repos)
    g_dir_close (repos);
  g_free (cache);
  g_ptr_array_sort (out, entry_order);
  return out;
}
