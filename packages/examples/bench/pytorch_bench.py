"""PyTorch CPU on the work `pnpm bench --only=cpu` times (run by cpu.bench.ts, which reads its JSON).

matmul 1024^3 (GFLOP/s), the GRU language model's training step for each config (Embedding -> GRU
-> Linear -> cross-entropy, Adam; ms/step including a read of the loss), and greedy generation at
batch 1 with H = 256, reading each token on the host (ms/token). Each is timed with
torch.set_num_threads(1) and with all cores; both are printed, and the caller reports the faster.

    /usr/bin/python3 pytorch_bench.py '{"configs": [[32, 64, 64, 128, 64]], "tokens": 200}'
"""
import json
import os
import sys
import time

import torch


MAX_RUNS = 100


def median_ms(fn, warmup, runs, warmup_s=0.0, timed_s=0.0):
    # The rule wgru and tfjs follow: at least `warmup` runs and at least `warmup_s` seconds of them,
    # then at least `runs` timed runs and at least `timed_s` seconds of them (at most MAX_RUNS).
    start = time.perf_counter()
    done = 0
    while done < warmup or time.perf_counter() - start < warmup_s:
        fn()
        done += 1
    times = []
    start = time.perf_counter()
    while len(times) < runs or (time.perf_counter() - start < timed_s and len(times) < MAX_RUNS):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2]


def matmul_gflops(n, runs):
    """Median wall GFLOP/s, and GFLOP/s per CPU-second (all threads' CPU time: a busy machine)."""
    a = torch.rand(n, n) * 2 - 1
    b = torch.rand(n, n) * 2 - 1
    cpu0 = time.process_time()
    ms = median_ms(lambda: torch.mm(a, b), 2, runs)
    cpu = time.process_time() - cpu0
    return 2 * n**3 / ms / 1e6, 2 * n**3 * (runs + 2) / cpu / 1e9


def train_step_ms(B, T, I, H, V, steps, warmup=2, warmup_s=0.0, timed_s=0.0):
    torch.manual_seed(0)
    embed, gru, head = torch.nn.Embedding(V, I), torch.nn.GRU(I, H), torch.nn.Linear(H, V)
    params = [*embed.parameters(), *gru.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    ids = torch.randint(0, V, (T, B))  # time-major, as wgru's bench
    targets = torch.randint(0, V, (T * B,))

    def step():
        output, _ = gru(embed(ids))
        loss = loss_fn(head(output.reshape(T * B, H)), targets)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    return median_ms(step, warmup, steps, warmup_s, timed_s)


def token_ms(tokens, warmup=1, warmup_s=0.0, V=128, I=128, H=256):
    torch.manual_seed(0)
    embed, gru, head = torch.nn.Embedding(V, I), torch.nn.GRU(I, H), torch.nn.Linear(H, V)

    def run():
        with torch.no_grad():
            tok, h = 0, torch.zeros(1, 1, H)
            for _ in range(tokens):
                out, h = gru(embed(torch.tensor([[tok]])), h)
                tok = head(out).argmax(-1).item()  # the host reads each token

    return median_ms(run, warmup, 5, warmup_s) / tokens


def measure(args):
    gflops, per_cpu_second = matmul_gflops(1024, args.get("matmulRuns", 7))
    return {
        "matmul1024_gflops": gflops,
        "matmul1024_gflops_per_cpu_second": per_cpu_second,
        "train_ms": [
            train_step_ms(
                *c,
                args.get("steps", 5),
                args.get("warmup", 2),
                args.get("warmupMs", 0) / 1000,
                args.get("timedMs", 0) / 1000,
            )
            for c in args["configs"]
        ],
        "token_ms": token_ms(args.get("tokens", 200), args.get("tokenWarmup", 1), args.get("warmupMs", 0) / 1000),
    }


if __name__ == "__main__":
    args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {"configs": [[32, 64, 64, 128, 64]]}
    out = {"torch": torch.__version__, "cores": os.cpu_count()}
    for threads in (1, os.cpu_count()):
        torch.set_num_threads(threads)
        out[f"threads{threads}"] = measure(args)
    print(json.dumps(out))
