#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Where lavapipe spends a forward pass: samples `heed bench` with perf, copies the JIT code
# regions that hold the most samples out of the live process with gdb (Debian's Mesa has no
# GALLIVM_DEBUG=asm), disassembles them and prints, per region, the instructions that took the
# samples and the share that touched the stack (spills and reloads).
#   tools/perf_jit.sh [SECONDS] [REGIONS]     (needs perf, gdb and objdump)
# HEED_BENCH_ARGS replaces the model options of the `heed bench` it samples (default
# `--shape deit-tiny`), e.g. "--model M --frame 1920x1080 --frame-format I420" for the
# preprocessing.
# Each region is one compiled pipeline (a shader with one workgroup size and specialization);
# the dumps stay in $OUT (default /tmp/heed-perf-jit) for reading: dis_<addr>.txt. For each
# shader in a region it also prints the shares of its main loop, of what follows the loop (the
# epilogue) and of the texel-fetch functions it calls.
set -euo pipefail
seconds=${1:-4}
regions=${2:-3}
case "$seconds$regions" in *[!0-9]*) echo "usage: $0 [SECONDS] [REGIONS]" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
heed="$here/build/tools/heed"
[ -x "$heed" ] || { echo "$heed: build the tree first" >&2; exit 1; }
for tool in perf gdb objdump; do
  command -v $tool > /dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
out=${OUT:-/tmp/heed-perf-jit}
mkdir -p "$out"
# shellcheck disable=SC2086 # the options split into words
"$heed" bench ${HEED_BENCH_ARGS:---shape deit-tiny} --runs 100000 --warmup 2 --no-torch --pipeline-frames 0 > /dev/null 2>&1 &
pid=$!
trap 'kill $pid 2> /dev/null || true' EXIT
sleep 4 # past the shader compilation
perf record -q -F 4000 -o "$out/perf.data" -p $pid -- sleep "$seconds" > /dev/null 2>&1
perf script -i "$out/perf.data" -F ip,dso 2> /dev/null | awk '/perf-|unknown|JIT/ { print $1 }' \
  > "$out/ips.txt"
grep -E 'r-xp 00000000 00:00 0 *$' /proc/$pid/maps > "$out/maps.txt"
/usr/bin/python3 - "$out" "$pid" "$regions" <<'EOF'
import collections, re, subprocess, sys
out, pid, n_regions = sys.argv[1], sys.argv[2], int(sys.argv[3])
regions = [tuple(int(x, 16) for x in l.split()[0].split('-')) for l in open(out + '/maps.txt')]
ips = [int(l, 16) for l in open(out + '/ips.txt') if l.strip()]
per_region = collections.defaultdict(collections.Counter)
for ip in ips:
    for s, e in regions:
        if s <= ip < e:
            per_region[(s, e)][ip] += 1
total = len(ips)
ranked = sorted(per_region.items(), key=lambda kv: -sum(kv[1].values()))[:n_regions]
for (s, e), hits in ranked:
    binary, listing = '%s/jit_%x.bin' % (out, s), '%s/dis_%x.txt' % (out, s)
    subprocess.run(['gdb', '-p', pid, '-batch', '-ex',
                    'dump binary memory %s 0x%x 0x%x' % (binary, s, e)], capture_output=True)
    with open(listing, 'w') as f:
        subprocess.run(['objdump', '-D', '-b', 'binary', '-m', 'i386:x86-64',
                        '--adjust-vma=0x%x' % s, binary], stdout=f)
    code = {}
    for l in open(listing):
        m = re.match(r'\s*([0-9a-f]+):\t[^\t]*\t(\S+)\s*(.*)', l)
        if m:
            code[int(m.group(1), 16)] = (m.group(2), m.group(3))
    by_op, stack = collections.Counter(), 0
    for ip, k in hits.items():
        op, args = code.get(ip, ('?', ''))
        by_op[op] += k
        stack += k if 'rsp' in args else 0
    n = sum(hits.values())
    print('region 0x%x (%d kB): %.0f%% of all samples; %.0f%% of its samples on instructions '
          'touching the stack; %s' % (s, (e - s) // 1024, 100 * n / total, 100 * stack / n,
                                      listing))
    print('   ', ', '.join('%s %.0f%%' % (op, 100 * k / n) for op, k in by_op.most_common(12)))
    # Each compiled shader is a large function; the texel fetches are small ones it calls.
    # Per shader: its main loop (its widest backward branch), what comes after it (the epilogue:
    # C's stores), and its fetch functions together.
    addrs = sorted(code)
    functions, start = [], addrs[0]
    for a in addrs:
        if code[a][0].startswith('ret'):
            functions.append((start, a))
            start = a + 1
    def samples(lo, hi):
        return sum(k for ip, k in hits.items() if lo <= ip <= hi)
    # the fetch functions a shader calls follow it in the region, up to the next shader
    shaders = [f for f in functions if f[1] - f[0] >= 2048]
    for i, (f0, f1) in enumerate(shaders):
        end = shaders[i + 1][0] - 1 if i + 1 < len(shaders) else addrs[-1]
        fetch = sum(samples(g0, g1) for g0, g1 in functions if f1 < g0 and g1 <= end and g1 - g0 < 1024)
        in_f = samples(f0, f1)
        if in_f < 0.05 * n:
            continue
        loop = None
        for a in addrs:
            if f0 <= a <= f1 and code[a][0].startswith('j'):
                t = re.match(r'0x([0-9a-f]+)', code[a][1])
                if t and int(t.group(1), 16) < a and (not loop or a - int(t.group(1), 16) > loop[1] - loop[0]):
                    loop = (int(t.group(1), 16), a)
        if not loop:
            continue
        in_loop, after = samples(loop[0], loop[1]), samples(loop[1] + 1, f1)
        # to tell the shaders apart: the fetches a step of the main loop calls, and divisions
        # (fc1's GELU has them; the attention's loop calls dozens of fetches)
        calls = sum(1 for a in addrs if loop[0] <= a <= loop[1] and code[a][0].startswith('call'))
        divs = sum(1 for a in addrs if f0 <= a <= f1 and code[a][0] == 'vdivps')
        print('    shader at 0x%x (%d calls in its main loop, %d divisions): %.0f%% of the region; '
              'of its samples and its fetch functions: %.0f%% in its main loop, %.0f%% after it, '
              '%.0f%% in the fetches' % (f0, calls, divs, 100 * in_f / n,
                                         100 * in_loop / (in_f + fetch),
                                         100 * after / (in_f + fetch), 100 * fetch / (in_f + fetch)))
EOF
