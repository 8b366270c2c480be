#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job's heart (demos/annotate-demo.sh runs it; tests/test_demos.py checks what it
# leaves): makes a sample clip on the spot (lavfi shots joined by cuts, dissolves and fades,
# with beeps and noise bursts; H.264 + AAC; tools/keyframe_corpus.py, its ground truth beside
# it) and annotates it with `heed annotate`, leaving in OUTDIR:
#   sample.mp4, sample.json    the clip and its ground truth
#   annotated.mp4              heatmap, labels and keyframe timeline drawn in, sound kept
#   annotated.jsonl            one JSON object per frame (docs/heed-jsonl.schema.json)
#   report/index.html          the keyframe report: thumbnails, importance timeline, label track
#   annotated-frame.png        a frame a little after the first keyframe (its mark showing)
#   demos/annotate-sample.sh OUTDIR [--model M]    (run from a built tree)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [--model M]" >&2; exit 2; }
dir=$1
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$dir"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
/usr/bin/python3 "$root/tools/keyframe_corpus.py" "$scratch" --clips 1 >/dev/null
cp "$scratch/clip00.mp4" "$dir/sample.mp4"
cp "$scratch/clip00.json" "$dir/sample.json"
"$root/build/tools/heed" annotate "$dir/sample.mp4" -o "$dir/annotated.mp4" \
  --jsonl "$dir/annotated.jsonl" --report "$dir/report" "$@"
count () { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
  -of csv=p=0 "$1"; }
frames_in=$(count "$dir/sample.mp4") frames_out=$(count "$dir/annotated.mp4")
[ "$frames_in" -eq "$frames_out" ] ||
  { echo "the annotated video has $frames_out frames, the input $frames_in" >&2; exit 1; }
first_key=$(grep -m1 '"keyframe":true' "$dir/annotated.jsonl" \
  | sed 's/.*"frame":\([0-9]*\).*/\1/')
ffmpeg -v error -y -i "$dir/annotated.mp4" -vf "select=eq(n\\,$((first_key + 5)))" \
  -frames:v 1 "$dir/annotated-frame.png"
echo "wrote $dir/annotated.mp4 ($frames_out frames, as many as the input)," \
  "$dir/annotated.jsonl ($(wc -l < "$dir/annotated.jsonl") lines)," \
  "$dir/report/index.html ($(ls "$dir/report/keyframes" | wc -l) keyframes; open it in a browser)" \
  "and $dir/annotated-frame.png (frame $((first_key + 5)), after the first keyframe)"
