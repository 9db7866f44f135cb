#!/usr/bin/env python3
"""Joins bench_kernels' JSON (ours) with bench_peers.py's graph JSON (fla, SDPA)
into the markdown tables of bench/RESULTS.md.

  compare.py OURS.json PEERS.json > table.md
Ratio = peer ms / our ms (> 1: we are faster). Linearity = t(32k) / t(4k).
"""
import json
import os
import sys

PEER_OF = {'scalelab_scalar_decay': 'fla_simple_gla_g', 'scalelab_vector_decay': 'fla_gla',
           'scalelab_gated_delta': 'fla_gated_delta'}


def main():
    ours = json.load(open(sys.argv[1]))
    have = len(sys.argv) > 2 and os.path.exists(sys.argv[2])
    peers = json.load(open(sys.argv[2])) if have else {'entries': []}
    pe = {(e['op'], e['d'], e['T']): e for e in peers.get('entries', []) if e.get('status') == 'ok'}
    print(f"GPU: {ours.get('gpu')}, B={ours.get('B')}, H={ours.get('H')}, bf16; ms = median; "
          f"ours timed by {ours.get('timing', 'events')}, peers by CUDA-graph replay; "
          "ratio = peer ms / ours (>1 = we are faster)\n")
    by_op = {}
    for e in ours['entries']:
        by_op.setdefault(e['op'], []).append(e)
    for op, rows in by_op.items():
        peer = PEER_OF.get(op)
        print(f"### {op} vs {peer} and sdpa_flash\n")
        print('| d | T | fwd ms | fwd TF/s | f+b ms | f+b TF/s | fla fwd ms | fla f+b ms '
              '| ratio fwd | ratio f+b | sdpa f+b ms | ratio vs sdpa f+b |')
        print('|---|---|---|---|---|---|---|---|---|---|---|---|')
        for e in rows:
            p = pe.get((peer, e['d'], e['T']))
            s = pe.get(('sdpa_flash', e['d'], e['T']))
            f = lambda x: f'{x:.3f}' if x is not None else '-'
            r = lambda a, b: f'{a / b:.2f}' if a is not None else '-'
            print(f"| {e['d']} | {e['T']} | {e['fwd_ms']:.3f} | {e['fwd_tflops']:.1f} | {e['fwdbwd_ms']:.3f} "
                  f"| {e['fwdbwd_tflops']:.1f} | {f(p and p['fwd_ms'])} | {f(p and p['fwdbwd_ms'])} "
                  f"| {r(p and p['fwd_ms'], e['fwd_ms'])} | {r(p and p['fwdbwd_ms'], e['fwdbwd_ms'])} "
                  f"| {f(s and s['fwdbwd_ms'])} | {r(s and s['fwdbwd_ms'], e['fwdbwd_ms'])} |")
        for d in sorted({e['d'] for e in rows}):
            t = {e['T']: e['fwdbwd_ms'] for e in rows if e['d'] == d}
            if 4096 in t and 32768 in t:
                print(f"\nd={d}: f+b t(32k)/t(4k) = {t[32768] / t[4096]:.2f} (target <= 8.5)")
        print()


if __name__ == '__main__':
    main()
