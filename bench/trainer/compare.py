"""Joins bench_trainer's JSON lines with bench_peers.py's train results (same
device call) into the table of bench/RESULTS.md: tokens/s per model and mixer,
and scalelab's ratio to each peer.

  python compare.py OUT/ours.jsonl OUT
"""
import glob
import json
import os
import sys


def peer_results(out):
    res = {}
    for path in glob.glob(os.path.join(out, 'results_train_*.json')):
        with open(path) as f:
            r = json.load(f)
        c = r.get('config', {})
        if 'tokens_per_s' not in r or c.get('model') != 'llama':
            continue
        mode = 'compile' if r['mode'].startswith('compile') else 'eager'
        res[(c['d_model'], c['n_layer'], c['batch'], c['mixer'], mode)] = r
    return res


def main():
    ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    peers = peer_results(sys.argv[2])
    print('| model | mixer | graph | scalelab tok/s | step ms | MFU (6N+head) | peak GiB (planner) '
          '| peer eager | peer compile | vs eager | vs compile |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for r in ours:
        d = r['descriptor']
        mixer = d.split(':L')[0]
        fields = dict((f[0], f[1:]) for f in d.split(':')[1:] if f[:1] in 'Ldv')
        L, D = int(fields['L']), int(fields['d'])
        key_mixer = mixer if mixer in ('softmax', 'lightning') else None
        pe = peers.get((D, L, r['batch'], key_mixer, 'eager')) if key_mixer else None
        pc = peers.get((D, L, r['batch'], key_mixer, 'compile')) if key_mixer else None
        fmt = lambda p: f"{p['tokens_per_s']:,.0f}" if p else '-'
        ratio = lambda p: f"{r['tokens_per_s'] / p['tokens_per_s']:.2f}x" if p else '-'
        print(f"| L{L} d{D} B{r['batch']} | {mixer} | {'on' if r['graph'] else 'off'} "
              f"| {r['tokens_per_s']:,.0f} | {r['step_ms_median']:.2f} "
              f"| {100 * r['mfu_6N_nonembed_plus_lmhead']:.1f}% "
              f"| {r['peak_mem_bytes'] / 2**30:.2f} ({r['planner_memory_estimate_bytes'] / 2**30:.2f}) "
              f"| {fmt(pe)} | {fmt(pc)} | {ratio(pe)} | {ratio(pc)} |")
    for (D, L, B, mixer, mode), p in sorted(peers.items()):
        print(f"peer {mode} {mixer} L{L} d{D} B{B}: {p['tokens_per_s']:,.0f} tok/s, "
              f"step {p['step_ms_median']:.2f} ms, peak {p['peak_mem_gib']:.2f} GiB, "
              f"first step {p.get('first_step_s', 0):.1f} s")


if __name__ == '__main__':
    main()
