#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An application reads heedclassify's metadata from Python (PyGObject), without heed's
library: the custom meta's structure and the ROI meta's DL Streamer-style parameters.
Prints TAP."""

import os
import struct
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

Gst.init(None)
model = os.path.join(os.environ["HEED_FIXTURES"], "p8_hd48_f32", "model.safetensors")
pipe = Gst.parse_launch(
    "videotestsrc num-buffers=3 pattern=ball ! video/x-raw,format=I420,width=320,height=240 "
    f"! heedclassify model={model} inference-interval=2 ! appsink name=sink sync=false")
sink = pipe.get_by_name("sink")
pipe.set_state(Gst.State.PLAYING)

checks = []


def check(name, ok):
    checks.append((name, bool(ok)))


for i in range(3):
    sample = sink.emit("try-pull-sample", 60 * Gst.SECOND)
    check(f"frame {i} arrives", sample is not None)
    buf = sample.get_buffer()
    meta = buf.get_custom_meta("HeedClassificationMeta")
    check(f"frame {i} has HeedClassificationMeta", meta is not None)
    s = meta.get_structure()
    check(f"frame {i} structure name", s.get_name() == "heed-classification")
    labels = s.get_value("labels")
    confidences = s.get_value("confidences")
    check(f"frame {i} top-k labels", len(labels) == 5 and all(isinstance(x, str) for x in labels))
    check(f"frame {i} confidences sorted", list(confidences) == sorted(confidences, reverse=True))
    check(f"frame {i} inferred flag", s.get_value("inferred") == (i % 2 == 0))
    w, h = s.get_value("attention-width"), s.get_value("attention-height")
    attention = s.get_value("attention").get_data()
    values = struct.unpack(f"<{w * h}f", attention)
    check(f"frame {i} attention {w}x{h} sums to 1", w * h == 81 and abs(sum(values) - 1) < 1e-4)
    emb = s.get_value("embedding").get_data()
    check(f"frame {i} embedding", len(emb) == 4 * s.get_value("embedding-size") == 4 * 96)
    peak = (s.get_value("attention-peak-x"), s.get_value("attention-peak-y"))
    check(f"frame {i} peak in the frame", all(0 <= p <= 1 for p in peak))

    roi = GstVideo.buffer_get_video_region_of_interest_meta_id(buf, 0)  # the full-frame ROI
    check(f"frame {i} has a full-frame ROI", roi is not None and (roi.w, roi.h) == (320, 240))
    param = roi.get_param("classification")
    check(f"frame {i} ROI label", param.get_value("label") == labels[0])
    check(f"frame {i} ROI label_id/confidence",
          param.get_value("label_id") == s.get_value("label-ids")[0]
          and abs(param.get_value("confidence") - confidences[0]) < 1e-12)

pipe.set_state(Gst.State.NULL)
print(f"1..{len(checks)}")
for n, (name, ok) in enumerate(checks, 1):
    print(f"{'ok' if ok else 'not ok'} {n} {name}")
sys.exit(0 if all(ok for _, ok in checks) else 1)
