#!/usr/bin/env python3
"""fla's chunk_gated_delta_rule on the inputs the device test dumped
(tests/kernels_cuda/test_cuda_delta_rule.cpp with SCALELAB_GDN_DUMP=DIR),
against the same fp64 reference, next to our kernels' errors from the same
run: relative RMS of o, the final state and every gradient.

  gdn_fla_errors.py DIR PEERS_DIR [--json OUT.json] > table.md
PEERS_DIR holds bench_peers.py and the fla source (.peers, see
shared/peers/README.md); its import path (package stubs, Hopper guard lift)
is reused so fla runs exactly as it is timed.
"""
import json
import os
import sys

NAMES = ['o', 'final_state', 'dq', 'dk', 'dv', 'dg', 'dbeta', 'dh0']


def main():
    case_dir, peers = sys.argv[1], sys.argv[2]
    out_json = sys.argv[sys.argv.index('--json') + 1] if '--json' in sys.argv else None
    sys.path.insert(0, peers)
    import numpy as np
    import torch
    import bench_peers
    imports, errors = bench_peers.import_kernels()
    if 'chunk_gated_delta_rule' not in imports:
        print('fla chunk_gated_delta_rule did not import:', errors, file=sys.stderr)
        return 1
    gdr = imports['chunk_gated_delta_rule']
    dev = 'cuda'

    def load(d, n, shape):
        return torch.from_numpy(np.fromfile(os.path.join(d, n + '.f32'), dtype=np.float32)
                                .reshape(shape)).to(dev)

    def rel(a, b):
        a, b = a.double(), b.double()
        den = b.norm().item()
        return (a - b).norm().item() / den if den else (a - b).norm().item()

    rows = []
    for case in sorted(os.listdir(case_dir)):
        d = os.path.join(case_dir, case)
        m = json.load(open(os.path.join(d, 'meta.json')))
        B, T, H, K, V = m['B'], m['T'], m['H'], m['K'], m['V']
        q = load(d, 'q', (B, T, H, K)).bfloat16()
        k = load(d, 'k', (B, T, H, K)).bfloat16()
        v = load(d, 'v', (B, T, H, V)).bfloat16()
        g = load(d, 'g', (B, T, H))
        beta = load(d, 'beta', (B, T, H))
        h0 = load(d, 'h0', (B, H, K, V)) if m['h0'] else None
        wo = load(d, 'wo', (B, T, H, V))
        ws = load(d, 'ws', (B, H, K, V))
        leaves = [x.clone().requires_grad_() for x in (q, k, v, g, beta)]
        if h0 is not None:
            leaves.append(h0.clone().requires_grad_())
        try:
            o, ht = gdr(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], scale=K ** -0.5,
                        initial_state=leaves[5] if h0 is not None else None, output_final_state=True)
        except Exception as e:  # fla may want beta in q's dtype
            leaves[4] = beta.bfloat16().requires_grad_()
            o, ht = gdr(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], scale=K ** -0.5,
                        initial_state=leaves[5] if h0 is not None else None, output_final_state=True)
            print(f'{case}: fla refused fp32 beta ({type(e).__name__}); beta given in bf16', file=sys.stderr)
        loss = (o.double() * wo.double()).sum() + (ht.double() * ws.double()).sum()
        grads = torch.autograd.grad(loss, leaves)
        vals = [o, ht] + list(grads)
        fla = {}
        shapes = [(B, T, H, V), (B, H, K, V), (B, T, H, K), (B, T, H, K), (B, T, H, V), (B, T, H), (B, T, H),
                  (B, H, K, V)]
        for i, x in enumerate(vals):
            ref = load(d, 'ref_' + NAMES[i], shapes[i])
            fla[NAMES[i]] = rel(x, ref)
        rows.append({'case': case, 'ours': m['ours'], 'fla': fla})
    print('| case | ' + ' | '.join(f'{n} ours / fla' for n in NAMES) + ' |')
    print('|---|' + '---|' * len(NAMES))
    for r in rows:
        cells = []
        for n in NAMES:
            if n in r['ours'] and n in r['fla']:
                mark = '' if r['ours'][n] <= r['fla'][n] else ' (!)'
                cells.append(f"{r['ours'][n]:.1e} / {r['fla'][n]:.1e}{mark}")
            else:
                cells.append('-')
        print(f"| {r['case']} | " + ' | '.join(cells) + ' |')
    worse = sum(1 for r in rows for n in NAMES if n in r['ours'] and n in r['fla'] and r['ours'][n] > r['fla'][n])
    total = sum(1 for r in rows for n in NAMES if n in r['ours'] and n in r['fla'])
    print(f'\n(!) = ours above fla: {worse} of {total} entries')
    if out_json:
        json.dump(rows, open(out_json, 'w'), indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
