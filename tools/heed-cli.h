/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared by the heed tool's command files. */
#ifndef HEED_CLI_H
#define HEED_CLI_H

#include <glib.h>
#include <gst/gst.h>

/* Prints "heed: <reason>" as one line on stderr (the error's message, else `what`), frees the
 * error and returns the exit status 1. */
int heed_cli_fail (const char *what, GError *error);
/* Up to the first n bytes of the file at path into head, zeros past what it holds: for telling
 * a format by its first bytes. Returns how many it read (0 when it cannot be read). */
gsize heed_cli_read_head (const char *path, guint8 *head, gsize n);
/* Whether a file's first got bytes (heed_cli_read_head's) start as a PNG does: its signature */
gboolean heed_cli_head_is_png (const guint8 *head, gsize got);
/* Whether they start as a BMP does: "BM" and a DIB header of a known size. Through decodebin,
 * FFmpeg's BMP decoder gets the file in 4 kB pieces with no parser to join them: an uncompressed
 * one fails, and a run-length encoded one decodes as its first piece, the rest black. GdkPixbuf
 * reads both as Pillow does. */
gboolean heed_cli_head_is_bmp (const guint8 *head, gsize got);
/* Around a read of a file by GdkPixbuf: its loaders print warnings of their own on a damaged
 * file (libheif's "Invalid input: ..."), where heed says why in one line. Returns what
 * heed_cli_unmute_warnings takes back. */
guint heed_cli_mute_warnings (void);
void heed_cli_unmute_warnings (guint handler);
/* A picture or video at an address (https://, http://, ...), fetched whole into a temporary file
 * by the GStreamer source for its scheme, so that it is decoded as the same file on disk is
 * (GdkPixbuf first for JPEGs and PNGs, as Pillow reads them, their EXIF orientation with them);
 * NULL with *stream set where the address is a stream instead (a source with no fixed output,
 * such as RTSP's; a live one; MJPEG over HTTP; more than 256 MiB), else NULL with the reason.
 * The caller unlinks the file. */
char *heed_cli_fetch_address (const char *uri, gboolean *stream, GError **error);
/* Where a command's input is read from: a file (a path, or a file:// URI turned into its path
 * in *path), or an address a GStreamer source reads (http://, https://, rtsp://, ...: *uri),
 * both NULL for a plain path. A name that is a file is a file, whatever it looks like. FALSE
 * with the reason for an address no source reads or a file:// URI that names no path. */
gboolean heed_cli_input_location (const char *input, char **uri, char **path, GError **error);

/* The videos (and, with pictures, the pictures) directly in folder dir, told by their content
 * (hidden files left out), appended to inputs as paths in the order a file manager lists their
 * names ("clip2" before "clip10"); FALSE with the reason where the folder cannot be read or
 * holds none. */
gboolean heed_cli_add_folder (GPtrArray *inputs, const char *dir, gboolean pictures,
                              GError **error);
/* A download's progress on stderr, as one redrawn line, when stderr is a terminal. */
void heed_cli_progress (const char *file, guint64 done, guint64 total, gpointer data);
/* heed_hub_resolve with heed_cli_progress (the model path itself for a file). */
char *heed_cli_resolve_model (const char *model, GError **error);

/* The --model option of the commands that take a checkpoint: what it may be, then the
 * command's default (a string literal, "" where there is none) */
#define HEED_CLI_MODEL_HELP                                                                        \
  "ViT checkpoint (safetensors, or PyTorch's pytorch_model.bin; a sharded one's index.json; "      \
  "OpenCLIP's open_clip_model.safetensors; or the folder that holds it), or "                      \
  "hf:OWNER/NAME[@REVISION] from the Hugging Face hub"
#define HEED_CLI_MODEL_ENTRY(path_var, default_text)                                               \
  {                                                                                                \
    "model", 'm', 0, G_OPTION_ARG_FILENAME, &(path_var), HEED_CLI_MODEL_HELP default_text, "M"     \
  }

/* The --weights option of the commands that build a plan, and its value (NULL: fp32). */
#define HEED_CLI_WEIGHTS_HELP                                                                      \
  "fp32 (default), fp16 or fp16-matmul: how the matrix multiplies' weights are stored on the "     \
  "device (fp16 halves their memory, the arithmetic stays float32); fp16-matmul rounds their "     \
  "activations to half too, as tensor cores take them (HEED_COOPMAT=1: on cooperative "            \
  "matrices where the device has them)"
#define HEED_CLI_WEIGHTS_ENTRY(name_var)                                                           \
  {                                                                                                \
    "weights", 0, 0, G_OPTION_ARG_STRING, &(name_var), HEED_CLI_WEIGHTS_HELP, "FORMAT"             \
  }

int heed_cmd_bench (int argc, char **argv);
int heed_cmd_models (int argc, char **argv);
int heed_cmd_classify (int argc, char **argv);
int heed_cmd_annotate (int argc, char **argv);
int heed_cmd_live (int argc, char **argv);
/* The heed GStreamer plugin: installed, or the build tree's when the tool runs from there
 * (gst_init first). */
gboolean heed_cli_find_plugin (GError **error);

/* What heed_cli_run_pipeline calls back, on the main thread; any may be NULL. */
typedef struct {
  guint tick_ms;
  void (*tick) (gpointer data);
  /* Ctrl-C: TRUE when the command ends the stream itself (the pipeline then runs to its EOS;
   * a second Ctrl-C stops at once), FALSE to stop at once */
  gboolean (*interrupt) (gpointer data);
  void (*element_message) (const GstStructure *message, gpointer data);
} HeedCliHooks;
/* Plays the pipeline until its EOS, Ctrl-C (see the hooks) or an error (FALSE, with the first
 * error's message and the element that posted it), and sets it to NULL. */
gboolean heed_cli_run_pipeline (GstElement *pipeline, const HeedCliHooks *hooks, gpointer data,
                                GError **error);
/* A string property of the pipeline's element of that name (which must be there). */
void heed_cli_set_string (GstElement *pipeline, const char *element, const char *property,
                          const char *value);
/* A property of the pipeline's element of that name set from the text of --OPTION (NULL: left
 * as it is), as gst-launch reads it (an enum's nick, a number); FALSE with an error that says
 * what the property takes for text it does not. */
gboolean heed_cli_set_arg (GstElement *pipeline, const char *element, const char *property,
                           const char *option, const char *value, GError **error);
/* annotate's and live's options that stand for the elements' properties (--labels, --top-k,
 * --resize, --attention, --input-size, --interval on the element named classify; --threshold on
 * key), each read from its text by heed_cli_set_arg */
#define HEED_CLI_ELEMENT_OPTIONS 7
typedef struct {
  char *values[HEED_CLI_ELEMENT_OPTIONS]; /* as given, NULL where not */
} HeedCliElementOptions;
void heed_cli_element_options_add (GOptionContext *ctx, HeedCliElementOptions *o);
gboolean heed_cli_element_options_apply (GstElement *pipeline, const HeedCliElementOptions *o,
                                         GError **error);
void heed_cli_element_options_clear (HeedCliElementOptions *o);
/* heedclassify's `weights` property on the pipeline's element of that name, from --weights
 * (NULL: left at fp32); FALSE with an error for a name that is neither fp32 nor fp16. */
gboolean heed_cli_set_weights (GstElement *pipeline, const char *element, const char *weights,
                               GError **error);
/* A buffer probe on a static pad of the pipeline's element of that name; FALSE when there is
 * no such element. */
gboolean heed_cli_probe_buffers (GstElement *pipeline, const char *element, const char *pad,
                                 GstPadProbeCallback callback, gpointer data);

/* qsort's order of doubles, for medians and percentiles */
int heed_cli_compare_double (const void *a, const void *b);

/* What heed_cli_bench_pipeline measured: the frames that reached the sink, and after the first
 * tenth, frames per second and each frame's time from heedclassify's sink pad to the sink */
typedef struct {
  guint frames;
  double frames_per_second;
  double latency_median_ms, latency_p95_ms, latency_max_ms;
} HeedCliPipelineTiming;
/* Runs `videotestsrc num-buffers=FRAMES pattern=ball ! WIDTHxHEIGHT at 30/1 ! heedclassify !
 * DOWNSTREAM ! fakesink sync=false`, heedclassify given the model (and the --weights name and
 * device, where set), as fast as it goes; FALSE with an error when the pipeline fails or too
 * few frames come through. */
gboolean heed_cli_bench_pipeline (const char *downstream, const char *model_path,
                                  const char *weights, int device_index, guint width, guint height,
                                  guint frames, HeedCliPipelineTiming *timing, GError **error);

#endif
