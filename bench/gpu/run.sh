#!/usr/bin/env bash
# GPU benchmark of the GoMLX trainer (issue 6): one run prints every figure.
#
# Usage, from the repository root of a machine with an NVIDIA GPU, PyTorch
# and JAX's CUDA PJRT plugin in python3's site-packages, and the xla build of
# the CLI (made where Go is installed:
#   CGO_ENABLED=1 go build -tags xla -ldflags="-s -w" -o bin/star-pipeline-xla ./cmd/star-pipeline):
#
#   bash bench/gpu/run.sh
#
# It prints, within about BUDGET seconds (default 420; each step has its own
# `timeout` and a step that no longer fits is skipped):
#   (a) parity: a tiny hybrid (SA-1, Rec-1, GConv-2, GMemless; depth 4,
#       width 64) on mad:in-context-recall: one step on the Go CPU backend,
#       then 19 more steps from that checkpoint on the Go CPU backend and on
#       XLA with tf32=false; both loss lists, the max relative difference
#       and PASS/FAIL against TOL (default 1e-3). Both continue from the same
#       weights because the backends' random generators differ (the Go
#       backend draws initial weights with PCG, XLA with Philox).
#   (b) the Go trainer on XLA in mixed precision (--precision bf16: float32
#       weights and Adam moments, bfloat16 matmuls): tokens/s and MFU for
#       --preset transformer++ and --preset striped at depth 24, width 768,
#       context 2048, batch 8, on a text corpus made from the repository's
#       own .go and .md files (no download);
#   (c) bench/gpu/reference.py (PyTorch, the same models: parameter counts
#       asserted equal) at the same batch and context, bf16 autocast and
#       TF32;
#   (d) as the budget allows, the same Go runs in float32 (TF32 matmuls,
#       XLA's default), and one table with the Go/PyTorch ratios at matching
#       precision (Go bf16 / torch bf16, Go fp32 / torch tf32).
# MFU = tokens/s x training FLOPs per token (`genome cost`: 3x the forward
# matmul FLOPs) / PEAK_TFLOPS (default 989, H100/H200 SXM dense bf16), for
# every precision.
#
# GPU=0 runs the same logic on the CPU at tiny sizes (the Go backend in
# place of XLA, torch on the CPU) to test the script itself:
#   GPU=0 BIN=bin/star-pipeline PYTHON=/usr/bin/python3 bash bench/gpu/run.sh
#
# Settings (environment): BIN, PYTHON, BUDGET, TOL, PEAK_TFLOPS, DEPTH,
# WIDTH, CONTEXT, BATCH, STEPS (Go, the first untimed), GO_PRECISIONS
# (default "bf16 fp32": the first in (b), the others in (d)), PT_STEPS
# (timed), PT_WARMUP, PT_PRECISIONS (default bf16,tf32), PRESETS (default
# "transformer++ striped"), PLUGIN (default: found under site-packages).
# Logs and JSON go to $OUT when set (the device tool returns it), else to a
# temporary directory.
set -u -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 2

GPU=${GPU:-1}
PY=${PYTHON:-python3}
BUDGET=${BUDGET:-420}
TOL=${TOL:-1e-3}
PEAK=${PEAK_TFLOPS:-989}
PRESETS=${PRESETS:-transformer++ striped}
GO_PRECISIONS=${GO_PRECISIONS:-bf16 fp32}
read -r GO_FIRST GO_LATER <<<"$GO_PRECISIONS"
GO_LATER=${GO_LATER:-}
PARITY_GENOME=${PARITY_GENOME:-11111-51111-81111-91111}
PARITY_STEPS=20
if [ "$GPU" = 1 ]; then
	DEPTH=${DEPTH:-24} WIDTH=${WIDTH:-768} CONTEXT=${CONTEXT:-2048} BATCH=${BATCH:-8}
	STEPS=${STEPS:-12} PT_STEPS=${PT_STEPS:-10} PT_WARMUP=${PT_WARMUP:-2} PT_PREC=${PT_PRECISIONS:-bf16,tf32}
else
	DEPTH=${DEPTH:-4} WIDTH=${WIDTH:-64} CONTEXT=${CONTEXT:-128} BATCH=${BATCH:-2}
	STEPS=${STEPS:-3} PT_STEPS=${PT_STEPS:-3} PT_WARMUP=${PT_WARMUP:-1} PT_PREC=${PT_PRECISIONS:-bf16,fp32}
fi
W=${OUT:-}
[ -n "$W" ] || W=$(mktemp -d /tmp/star-gpu-bench.XXXXXX)
mkdir -p "$W"
SCRATCH=$(mktemp -d /tmp/star-gpu-scratch.XXXXXX) # corpus and checkpoints: kept out of $OUT
trap 'rm -rf "$SCRATCH"' EXIT
SECONDS=0

say() { printf '\n== %s (t=%ds)\n' "$*" "$SECONDS"; }
# left CAP: seconds a step may take: CAP, or what is left of BUDGET less a
# 15 s reserve for the report; 0 when under 10 s remain.
left() {
	local t=$((BUDGET - SECONDS - 15))
	[ "$t" -gt "$1" ] && t=$1
	[ "$t" -lt 10 ] && t=0
	echo "$t"
}
# guarded CAP LOG CMD...: runs CMD under timeout, stderr to LOG; returns its
# status (124: timed out, 125: skipped for lack of time).
guarded() {
	local cap=$1 log=$2
	shift 2
	local t
	t=$(left "$cap")
	if [ "$t" = 0 ]; then
		echo "skipped: not enough of the ${BUDGET}s budget left" | tee "$log" >&2
		return 125
	fi
	timeout -k 5 "$t" "$@" 2>"$log"
	local rc=$?
	[ "$rc" = 124 ] && echo "timed out after ${t}s: $*" >&2
	[ "$rc" != 0 ] && [ "$rc" != 124 ] && { echo "failed (exit $rc): $*" >&2; tail -5 "$log" >&2; }
	return "$rc"
}

say "machine"
if [ "$GPU" = 1 ]; then
	nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi failed"
else
	echo "GPU=0: CPU dry run at tiny sizes ($(nproc) cores)"
fi
"$PY" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1

if [ -z "${BIN:-}" ]; then
	BIN=bin/star-pipeline-xla
	[ "$GPU" = 1 ] || [ -x "$BIN" ] || BIN=bin/star-pipeline
fi
if [ ! -x "$BIN" ]; then
	echo "no CLI binary at $BIN: build it with CGO_ENABLED=1 go build -tags xla -o bin/star-pipeline-xla ./cmd/star-pipeline" >&2
	exit 2
fi
echo "cli: $BIN"

if [ "$GPU" = 1 ]; then
	SP=$("$PY" -c 'import site; print(site.getsitepackages()[0])')
	PLUGIN=${PLUGIN:-$(ls "$SP"/jax_plugins/xla_cuda*/xla_cuda_plugin.so 2>/dev/null | sort -V | tail -1)}
	[ -n "$PLUGIN" ] || PLUGIN=$(timeout 30 find / -xdev -name xla_cuda_plugin.so 2>/dev/null | head -1)
	echo "site-packages: $SP"
	echo "plugin: ${PLUGIN:-none found}"
	export LD_LIBRARY_PATH="$(ls -d "$SP"/nvidia/*/lib 2>/dev/null | tr '\n' ':')${LD_LIBRARY_PATH:-}"
	export GOMLX_NO_AUTO_INSTALL=1
	PARITY_BACKEND="xla:$PLUGIN,tf32=false"
	BENCH_BACKEND="xla:$PLUGIN"
	[ -n "$PLUGIN" ] || { PARITY_BACKEND=none BENCH_BACKEND=none; }
else
	PARITY_BACKEND="go:parallelism=1" # a second Go run stands in for XLA
	BENCH_BACKEND="go"
fi

# ---------------------------------------------------------------- (a) ---
say "(a) parity: $PARITY_GENOME, go vs $PARITY_BACKEND, $PARITY_STEPS steps, fp32"
P="$SCRATCH/parity"
mkdir -p "$P"
PARITY_ARGS=(train "$PARITY_GENOME" --task mad:in-context-recall --width 64 --seed 7 --data-seed 3
	--train-examples 512 --test-examples 64 --batch 16 --precision fp32 --json)
if guarded 60 "$W/parity_init.log" "$BIN" "${PARITY_ARGS[@]}" --steps 1 --checkpoint "$P/go" --backend go >"$W/parity_init.json"; then
	# The checkpoint holds the weights and Adam moments after step 1; its
	# recipe says 1 step: make it say PARITY_STEPS so both runs resume it.
	"$PY" - "$P/go/checkpoint.star" "$PARITY_STEPS" <<'PY'
import json, struct, sys
path, steps = sys.argv[1], int(sys.argv[2])
b = open(path, "rb").read()
assert b[:8] == b"STARCKP1", "not a star checkpoint: %r" % b[:8]
n = struct.unpack("<Q", b[8:16])[0]
h = json.loads(b[16:16 + n])
h["recipe"]["steps"] = steps
nh = json.dumps(h, separators=(",", ":")).encode()
open(path, "wb").write(b[:8] + struct.pack("<Q", len(nh)) + nh + b[16 + n:])
PY
	cp -r "$P/go" "$P/other"
	guarded 60 "$W/parity_go.log" "$BIN" "${PARITY_ARGS[@]}" --steps "$PARITY_STEPS" --checkpoint "$P/go" --backend go >"$W/parity_go.json"
	if [ "$PARITY_BACKEND" != none ]; then
		guarded 120 "$W/parity_other.log" "$BIN" "${PARITY_ARGS[@]}" --steps "$PARITY_STEPS" --checkpoint "$P/other" \
			--backend "$PARITY_BACKEND" >"$W/parity_other.json"
	fi
fi
"$PY" - "$W/parity_go.json" "$W/parity_other.json" "$TOL" "$PARITY_BACKEND" "$W/parity.txt" <<'PY'
import json, sys
a_path, b_path, tol, other, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5]
def load(p):  # the JSON object of a CLI run, whatever else reached stdout
    try:
        text = open(p).read()
        i = text.find("{\n") if text.find("{\n") >= 0 else text.find("{")
        return json.JSONDecoder().raw_decode(text[i:])[0]
    except Exception:  # noqa: BLE001
        return None
a, b = load(a_path), load(b_path)
if not a or not b:
    line = "parity: no result (go: %s, %s: %s)" % ("ok" if a else "missing", other, "ok" if b else "missing")
else:
    la, lb = a["losses"][1:], b["losses"][1:]  # step 1 is the shared checkpoint
    print("step  go            %s" % other)
    for i, (x, y) in enumerate(zip(la, lb)):
        print("%4d  %.9f   %.9f   rel %.2e" % (i + 2, x, y, abs(x - y) / max(abs(x), 1e-12)))
    rel = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(la, lb))
    first = abs(la[0] - lb[0]) / max(abs(la[0]), 1e-12)
    ok = len(la) == len(lb) == 19 and rel <= tol
    line = "parity: %s  max rel diff %.3e over %d steps (first step after the shared checkpoint %.3e), tolerance %.0e" % (
        "PASS" if ok else "FAIL", rel, len(la), first, tol)
print(line)
open(out, "w").write(line + "\n")
PY

# ------------------------------------------------------------- (b), (c) ---
CORPUS="$SCRATCH/corpus.txt"
"$PY" - "$CORPUS" <<'PY'
import os, sys
parts = []
for root, dirs, files in os.walk("."):
    dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("bin", "node_modules", "shared"))
    for f in sorted(files):
        if f.endswith((".go", ".md")):
            parts.append(open(os.path.join(root, f), "rb").read())
text = b"".join(parts)
reps = max(1, (4 << 20) // max(1, len(text)) + 1)
open(sys.argv[1], "wb").write(text * reps)
print("corpus: %d bytes (%d files of the repository, x%d)" % (len(text) * reps, len(parts), reps))
PY

# go_bench STAGE PRESET PRECISION: one Go trainer run (files
# go_<tag>_<precision>.*), once more at half the batch on out-of-memory.
go_bench() {
	local stage=$1 preset=$2 prec=$3 tag=${2//+/p} b=$BATCH rc=1
	local name="go_${tag}_$3"
	say "$stage Go trainer on $BENCH_BACKEND, $prec: $preset depth $DEPTH width $WIDTH context $CONTEXT batch $BATCH, $STEPS steps"
	if [ "$BENCH_BACKEND" = none ]; then
		echo "skipped: no XLA plugin"
		return
	fi
	while :; do
		guarded 240 "$W/$name.log" "$BIN" train --preset "$preset" --depth "$DEPTH" --width "$WIDTH" --context "$CONTEXT" \
			--batch "$b" --steps "$STEPS" --seed 1 --task "text:$CORPUS" --eval-tokens $((b * CONTEXT)) \
			--precision "$prec" --backend "$BENCH_BACKEND" --json >"$W/$name.json"
		rc=$?
		# Out of memory: once more at half the batch.
		if [ "$rc" != 0 ] && [ "$b" -gt 1 ] && [ "$b" = "$BATCH" ] &&
			grep -qiE 'resource_exhausted|out of memory|\boom\b' "$W/$name.log"; then
			b=$((b / 2))
			echo "retrying at batch $b"
			continue
		fi
		break
	done
	[ "$rc" = 0 ] && "$PY" -c 'import json,sys; t=open(sys.argv[1]).read(); d=json.JSONDecoder().raw_decode(t[t.find("{\n"):])[0]; print("params %d, %s, train tokens/s %.0f, wall %.1fs, loss %.3f -> %.3f" % (d["params"], d.get("precision", "fp32"), d["train_tokens_per_s"], d["wall_s"], d["losses"][0], d["final_loss"]))' "$W/$name.json"
	echo "$b" >"$W/$name.batch"
}

PT_COSTS=()
PT_BATCH=()
for preset in $PRESETS; do
	tag=${preset//+/p}
	"$BIN" genome cost --preset "$preset" --depth "$DEPTH" --width "$WIDTH" --context "$CONTEXT" --vocab 256 --json >"$W/cost_$tag.json" ||
		{ echo "genome cost failed for $preset" >&2; continue; }
	go_bench "(b)" "$preset" "$GO_FIRST"
	b=$(cat "$W/go_${tag}_$GO_FIRST.batch" 2>/dev/null || echo "$BATCH")
	PT_COSTS+=(--cost "$tag=$W/cost_$tag.json")
	PT_BATCH+=(--batch-for "$tag=$b")
done

say "(c) PyTorch reference: ${PT_PREC} at batch/context as above"
if [ ${#PT_COSTS[@]} -gt 0 ]; then
	guarded 400 "$W/torch.log" "$PY" bench/gpu/reference.py "${PT_COSTS[@]}" "${PT_BATCH[@]}" --batch "$BATCH" \
		--steps "$PT_STEPS" --warmup "$PT_WARMUP" --precision "$PT_PREC" --text "$CORPUS" --peak-tflops "$PEAK" \
		>"$W/torch.jsonl"
	grep -v '^{' "$W/torch.log" | tail -8
fi

for prec in $GO_LATER; do
	for preset in $PRESETS; do
		[ -f "$W/cost_${preset//+/p}.json" ] || continue
		go_bench "(d)" "$preset" "$prec"
	done
done

say "report"
"$PY" - "$W" "$PEAK" "$BENCH_BACKEND" "$PRESETS" "$GO_PRECISIONS" <<'PY'
import json, os, re, sys
w, peak, backend, presets, go_precs = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4].split(), sys.argv[5].split()
def load(p):  # the JSON object of a CLI run, whatever else reached stdout
    try:
        text = open(p).read()
        i = text.find("{\n") if text.find("{\n") >= 0 else text.find("{")
        return json.JSONDecoder().raw_decode(text[i:])[0]
    except Exception:  # noqa: BLE001
        return None
def seconds(d):  # a Go duration: 1m2.5s, 850ms, 3.2s
    total, num = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    for m in re.finditer(r"([\d.]+)(h|ms|us|µs|ns|m|s)", d):
        total += float(m.group(1)) * units[m.group(2)]
    return total
def go_progress(path):  # [(step, steps, elapsed_s, tok_s)] from the CLI's progress lines
    out = []
    try:
        for line in open(path, errors="replace"):
            m = re.search(r"step (\d+)/(\d+) loss \S+ lr \S+ grad_norm \S+ ([\d.]+) tok/s elapsed (\S+)", line)
            if m:
                out.append((int(m.group(1)), int(m.group(2)), seconds(m.group(4)), float(m.group(3))))
    except OSError:
        pass
    return out
torch_runs = {}
try:
    for line in open(os.path.join(w, "torch.jsonl")):
        if line.startswith("{"):
            d = json.loads(line)
            torch_runs[(d["name"], d.get("precision"))] = d
except OSError:
    pass
precs = []
for (_, p) in torch_runs:
    if p not in precs:
        precs.append(p)
engine = backend.split(":")[0]
def go_label(prec):
    return "Go %s %s" % (engine, prec + (" (tf32)" if prec == "fp32" and backend.startswith("xla") else ""))
def go_match(p):  # the Go precision a torch precision is compared with
    return "bf16" if p == "bf16" else "fp32"
hdr = ["arch", "params", "batch x ctx"]
for gp in go_precs:
    hdr += [go_label(gp) + " tok/s", "MFU"]
for p in precs:
    hdr += ["torch %s tok/s" % p, "MFU", "Go %s/torch %s" % (go_match(p), p)]
rows = []
notes = []
for preset in presets:
    tag = preset.replace("+", "p")
    cost = load(os.path.join(w, "cost_%s.json" % tag))
    if not cost:
        continue
    fpt = cost["flops"]["train"]
    row = [preset, str(cost["params"]), ""]
    go_tps, batch = {}, None
    for gp in go_precs:
        name = "go_%s_%s" % (tag, gp)
        go = load(os.path.join(w, name + ".json"))
        try:
            b = int(open(os.path.join(w, name + ".batch")).read())
            batch = batch or b
            if b != batch:
                notes.append("%s: Go %s ran at batch %d" % (preset, gp, b))
        except (OSError, ValueError):
            pass
        tps = go["train_tokens_per_s"] if go else None
        prog = go_progress(os.path.join(w, name + ".log"))
        if prog:
            notes.append("%s: Go %s on %s: step 1 done %.1fs after start (graph compilation included), step %d/%d at %.1fs%s" % (
                preset, gp, engine, prog[0][2], prog[-1][0], prog[-1][1], prog[-1][2],
                ", whole run %.1fs" % go["wall_s"] if go else ""))
        if not tps and prog and prog[-1][0] >= 3 and prog[-1][3] > 0:
            tps = prog[-1][3]
            notes.append("%s: Go %s tokens/s read from the progress log (no JSON: the run did not finish)" % (preset, gp))
        if go and go["params"] != cost["params"]:
            notes.append("%s: Go trainer params %d != genome cost %d" % (preset, go["params"], cost["params"]))
        if go and go.get("precision", "fp32") != gp:
            notes.append("%s: Go run %s reports precision %s" % (preset, gp, go.get("precision")))
        go_tps[gp] = tps
        row += ["%.0f" % tps if tps else "-", "%.1f%%" % (100 * tps * fpt / (peak * 1e12)) if tps else "-"]
    row[2] = "%sx%d" % (batch or "?", cost["config"]["context"])
    for p in precs:
        d = torch_runs.get((tag, p))
        if not d or "tokens_per_s" not in d:
            row += ["-", "-", "-"]
            if d and "error" in d:
                notes.append("torch %s %s: %s" % (preset, p, d["error"]))
            continue
        if batch and d["batch"] != batch:
            notes.append("torch %s %s ran at batch %d" % (preset, p, d["batch"]))
        g = go_tps.get(go_match(p))
        row += ["%.0f" % d["tokens_per_s"], "%.1f%%" % (100 * d["mfu"]),
                "%.2f" % (g / d["tokens_per_s"]) if g else "-"]
        if not d.get("compiled"):
            notes.append("torch %s %s: %s" % (preset, p, d.get("compile")))
        for f in d.get("fallbacks", []):
            notes.append("torch %s %s: %s" % (preset, p, f))
    rows.append(row)
widths = [max(len(r[i]) for r in [hdr] + rows) for i in range(len(hdr))]
fmt = "  ".join("%%-%ds" % x for x in widths)
lines = [fmt % tuple(hdr)] + [fmt % tuple(r) for r in rows]
try:
    lines.append(open(os.path.join(w, "parity.txt")).read().strip())
except OSError:
    pass
lines.append("MFU = tokens/s x train FLOPs/token (genome cost, 3x forward matmul FLOPs) / %.0f TFLOP/s (dense bf16 peak), every precision" % peak)
dev = next((d.get("device") for d in torch_runs.values()), None)
if dev:
    lines.append("device: %s; torch %s" % (dev, next(iter(torch_runs.values())).get("torch")))
lines += ["note: " + n for n in notes]
text = "\n".join(lines)
print(text)
open(os.path.join(w, "report.txt"), "w").write(text + "\n")
PY
echo "files: $W (t=${SECONDS}s)"
