"""Where the GPU time of the PyTorch peer's training step goes (the same model
and step as shared/peers/bench_peers.py train_eager / train_compile --model
llama), by kernel kind, in the categories bench_trainer --profile prints for
scalelab. A measurement of the peer, never a dependency.

  python profile_peer.py PEERS/bench_peers.py --mixer softmax --d-model 768 --layers 12 \
      --heads 12 --seq 1024 --batch 16 [--compile]
"""
import argparse
import collections
import importlib.util
import sys

import torch


def kind_of(k):
    has = lambda *s: any(x in k for x in s)
    if has('gemm', 'cutlass', 'xmma', 'nvjet', 'cublas', 'Kernel2'):
        return 'matmul'
    if has('flash', 'fmha', 'cudnn', 'attention'):
        return 'attention (SDPA)'
    if has('chunk_', 'fwd_kernel', 'bwd_kernel', 'simple_gla', 'lightning'):
        return 'linear attention (fla)'
    if has('adam', 'multi_tensor', 'foreach'):
        return 'optimizer'
    if has('embedding', 'indexSelect', 'sort', 'radix'):
        return 'embedding'
    if has('triton_'):
        return 'inductor fused (norm/rope/swiglu/loss)'
    if has('reduce', 'Reduce', 'softmax', 'nll'):
        return 'reductions / loss'
    return 'elementwise / copies'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('peers')
    ap.add_argument('--mixer', default='softmax')
    ap.add_argument('--d-model', type=int, default=768)
    ap.add_argument('--layers', type=int, default=12)
    ap.add_argument('--heads', type=int, default=12)
    ap.add_argument('--seq', type=int, default=1024)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--vocab', type=int, default=32000)
    ap.add_argument('--compile', action='store_true')
    a = ap.parse_args()
    spec = importlib.util.spec_from_file_location('bench_peers', a.peers)
    bp = importlib.util.module_from_spec(spec)
    sys.modules['bench_peers'] = bp
    spec.loader.exec_module(bp)
    torch.backends.cuda.matmul.allow_tf32 = True
    D, V, T, B = a.d_model, a.vocab, a.seq, a.batch
    ffn = ((8 * D // 3) + 63) // 64 * 64
    torch.manual_seed(0)
    model = bp.build_llama(V, D, a.layers, a.heads, T, a.mixer, ffn).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    fwd = torch.compile(model) if a.compile else model
    x = torch.randint(0, V, (B, T), device='cuda')
    y = torch.randint(0, V, (B, T), device='cuda')

    def step():
        with torch.autocast('cuda', dtype=torch.bfloat16):
            logits = fwd(x)
        loss = torch.nn.functional.cross_entropy(logits.float().view(-1, V), y.view(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(6):
        step()
    torch.cuda.synchronize()
    n = 3
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            step()
        torch.cuda.synchronize()
    by_kernel = collections.defaultdict(lambda: [0.0, 0])
    for e in prof.events():
        if e.device_type != torch.autograd.DeviceType.CUDA or e.name.startswith(('Memcpy', 'Memset')):
            continue
        by_kernel[e.name][0] += e.device_time / 1e3 / n
        by_kernel[e.name][1] += 1
    kinds = collections.Counter()
    for k, (ms, _) in by_kernel.items():
        kinds[kind_of(k)] += ms
    total = sum(kinds.values())
    tag = f"peer {'compile' if a.compile else 'eager'} {a.mixer} L{a.layers} d{D} B{B} T{T}"
    print(f'{tag}: {total:.2f} ms of kernels per step')
    for k, ms in kinds.most_common():
        print(f'  {k:<38} {ms:8.3f} ms  {100 * ms / total:5.1f}%')
    print('  top kernels (ms per step, launches per step):')
    for k, (ms, c) in sorted(by_kernel.items(), key=lambda kv: -kv[1][0])[:18]:
        print(f'    {ms:7.3f}  {c // n:3d}  {k[:110]}')


if __name__ == '__main__':
    main()
