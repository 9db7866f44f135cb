"""Does a cuDNN SDPA fwd+bwd on a helper thread make the main thread's first call cheap?

ATen's cuDNN attention caches its execution plans per thread (MHA.cpp), but
the ~1.2-1.5 s of a first call per shape is kernel compilation, which the
driver caches on disk across processes (CUDA_CACHE_PATH). If a helper thread's
warm-up also makes the main thread's first call cheap, the trainer can warm
SDPA while the model is built. On the GPU machine:
  P=/opt/torch/.venv/bin/python; export CUDA_CACHE_PATH=$(mktemp -d)
  $P bench/trainer/sdpa_warm_probe.py cold; $P bench/trainer/sdpa_warm_probe.py cold2
  export CUDA_CACHE_PATH=$(mktemp -d); $P bench/trainer/sdpa_warm_probe.py thread
(cold2 shows the disk cache across processes; thread, a fresh cache, the helper's effect.)
"""
import os, sys, time, threading, torch
mode = sys.argv[1]
torch.cuda.init(); torch.zeros(1, device='cuda')
def call():
    q = torch.randn(16, 12, 1024, 64, device='cuda', dtype=torch.bfloat16, requires_grad=True)
    with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.CUDNN_ATTENTION]):
        o = torch.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
        o.sum().backward()
    torch.cuda.synchronize()
if mode == 'thread':
    t0 = time.time(); th = threading.Thread(target=call); th.start(); th.join()
    print(f'thread warm {time.time()-t0:.3f}s')
t0 = time.time(); call(); print(f'{mode}: main first call {time.time()-t0:.3f}s')
t0 = time.time(); call(); print(f'{mode}: main second call {time.time()-t0:.3f}s')
