#!/usr/bin/python3
"""Writes the PyTorch cross-check fixtures into packages/nn/test/fixtures/pytorch/.

Run with Debian's system Python and its python3-torch (scripts/install-pytorch.sh installs it):

    /usr/bin/python3 scripts/pytorch-fixtures.py

The tests (packages/nn/test/pytorch.test.ts) read the files on every backend; neither they nor CI
need torch. Every case is one safetensors file, written here per the format's specification (Debian
has no python3-safetensors): the model's PyTorch state dict under `param.<key>`, the inputs under
`in.<name>`, PyTorch's outputs under `out.<name>` and gradients under `grad.<key>`, and the case's
configuration as JSON in the metadata key `config`. A few cases also have a torch.onnx.export file.
Sizes are tiny on purpose: the files are KBs and the tests fast.
"""
import json
import os
import struct
import sys

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'packages', 'nn', 'test', 'fixtures', 'pytorch')
DTYPES = {torch.float32: 'F32', torch.float64: 'F64', torch.int32: 'I32'}


def save_safetensors(path, tensors, metadata):
    """The safetensors format: u64 little-endian header length, a JSON header (padded with spaces
    to a multiple of 8 bytes), then the tensors' row-major little-endian bytes, tiling the buffer."""
    header = {'__metadata__': metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.int64:
            t = t.to(torch.int32)
        data = t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def write_case(name, config, params, inputs, outputs, grads):
    tensors = {}
    for prefix, d in (('param.', params), ('in.', inputs), ('out.', outputs), ('grad.', grads)):
        for k, v in d.items():
            tensors[prefix + k] = v
    save_safetensors(os.path.join(OUT, name + '.safetensors'), tensors, {'config': json.dumps(config)})


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def backward_weights(*shapes):
    """Fixed random weights g for the scalar loss Σ g ⊙ y, so every output element gets its own gradient."""
    return [randn(*s) for s in shapes]


def gru_case(name, layers, bidirectional, lengths=None, batch_first=False):
    T, B, I, H = 5, 3, 3, 4
    D = 2 if bidirectional else 1
    gru = torch.nn.GRU(I, H, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    x = randn(*((B, T, I) if batch_first else (T, B, I))).requires_grad_()
    h0 = randn(layers * D, B, H).requires_grad_()
    if lengths is None:
        y, hn = gru(x, h0)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        yp, hn = gru(packed, h0)
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(yp, batch_first=batch_first, total_length=T)
    gy, ghn = backward_weights(y.shape, hn.shape)
    ((y * gy).sum() + (hn * ghn).sum()).backward()
    grads = {k: p.grad for k, p in gru.named_parameters()}
    grads.update({'x': x.grad, 'h0': h0.grad})
    config = {'T': T, 'B': B, 'I': I, 'H': H, 'numLayers': layers, 'bidirectional': bidirectional,
              'batchFirst': batch_first, 'lengths': lengths}
    write_case(name, config, gru.state_dict(), {'x': x, 'h0': h0, 'gy': gy, 'ghn': ghn}, {'y': y, 'hn': hn}, grads)
    return gru, x, h0


def onnx_export(name, model, x, h0):
    # Inference (eval) graph: one GRU node per layer, chained by Squeeze or Transpose + Reshape.
    model.eval()
    torch.onnx.export(model, (x.detach(), h0.detach()), os.path.join(OUT, name + '.onnx'),
                      input_names=['x', 'h0'], output_names=['y', 'hn'], opset_version=14)


def gru_cell_case():
    B, I, H = 3, 3, 4
    cell = torch.nn.GRUCell(I, H)
    x = randn(B, I).requires_grad_()
    h = randn(B, H).requires_grad_()
    h1 = cell(x, h)
    (g,) = backward_weights(h1.shape)
    (h1 * g).sum().backward()
    grads = {k: p.grad for k, p in cell.named_parameters()}
    grads.update({'x': x.grad, 'h': h.grad})
    write_case('gru_cell', {'B': B, 'I': I, 'H': H}, cell.state_dict(), {'x': x, 'h': h, 'g': g}, {'h1': h1}, grads)


def lstm_case():
    T, B, I, H, L = 4, 2, 3, 4, 2
    lstm = torch.nn.LSTM(I, H, num_layers=L)
    x = randn(T, B, I).requires_grad_()
    y, (hn, cn) = lstm(x)
    gy, ghn, gcn = backward_weights(y.shape, hn.shape, cn.shape)
    ((y * gy).sum() + (hn * ghn).sum() + (cn * gcn).sum()).backward()
    grads = {k: p.grad for k, p in lstm.named_parameters()}
    grads['x'] = x.grad
    write_case('lstm', {'T': T, 'B': B, 'I': I, 'H': H, 'numLayers': L}, lstm.state_dict(),
               {'x': x, 'gy': gy, 'ghn': ghn, 'gcn': gcn}, {'y': y, 'hn': hn, 'cn': cn}, grads)


def embedding_linear_ce_case():
    N, V, E, C = 6, 7, 4, 5
    emb = torch.nn.Embedding(V, E)
    lin = torch.nn.Linear(E, C)
    ids = torch.tensor([0, 3, 3, 6, 1, 2], dtype=torch.int64)
    targets = torch.tensor([1, 0, 4, 4, 2, 3], dtype=torch.int64)
    logits = lin(emb(ids))
    loss = torch.nn.CrossEntropyLoss()(logits, targets)
    loss_smooth = torch.nn.CrossEntropyLoss(label_smoothing=0.1, reduction='sum')(logits, targets)
    (loss + loss_smooth).backward()
    params = {'emb.weight': emb.weight, 'lin.weight': lin.weight, 'lin.bias': lin.bias}
    grads = {'emb.weight': emb.weight.grad, 'lin.weight': lin.weight.grad, 'lin.bias': lin.bias.grad}
    write_case('embedding_linear_ce', {'N': N, 'V': V, 'E': E, 'C': C}, params,
               {'ids': ids, 'targets': targets}, {'logits': logits, 'loss': loss.reshape(1),
                                                 'loss_smooth': loss_smooth.reshape(1)}, grads)


STEPS = 40


def optimizer_case(name, make):
    """A tiny classifier (Linear 4 → 3, CrossEntropyLoss) trained STEPS steps on fixed data."""
    lin = torch.nn.Linear(4, 3)
    start = {k: v.clone() for k, v in lin.state_dict().items()}
    x = randn(8, 4)
    y = torch.tensor([0, 1, 2, 1, 0, 2, 2, 1])
    opt, options = make(lin.parameters())
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    write_case(name, {'optimizer': options}, start, {'x': x, 'y': y},
               {'losses': torch.tensor(losses, dtype=torch.float64), 'weight': lin.weight, 'bias': lin.bias}, {})


class Tagger(torch.nn.Module):
    """Embedding → GRU → Linear: the model the recurrentBias training run imports."""

    def __init__(self, V, E, H, C):
        super().__init__()
        self.emb = torch.nn.Embedding(V, E)
        self.gru = torch.nn.GRU(E, H)
        self.head = torch.nn.Linear(H, C)

    def forward(self, ids):
        y, _ = self.gru(self.emb(ids))
        return self.head(y)


def training_case():
    T, B, V, E, H, C = 6, 4, 9, 5, 6, 9
    model = Tagger(V, E, H, C)
    # Nonzero, distinct recurrent biases, so that keeping them apart matters.
    with torch.no_grad():
        model.gru.bias_hh_l0.uniform_(-0.5, 0.5)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    ids = torch.randint(0, V, (T, B))
    targets = torch.randint(0, C, (T, B))
    lr = 0.05
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(ids).reshape(T * B, C), targets.reshape(T * B))
        losses.append(loss.item())
        loss.backward()
        opt.step()
    config = {'T': T, 'B': B, 'V': V, 'E': E, 'H': H, 'C': C, 'optimizer': {'name': 'Adam', 'lr': lr}}
    write_case('train_gru_adam', config, start, {'ids': ids, 'targets': targets},
               {'losses': torch.tensor(losses, dtype=torch.float64)}, {})


def main():
    torch.manual_seed(20261206)
    os.makedirs(OUT, exist_ok=True)
    gru, x, h0 = gru_case('gru_l2_bi', layers=2, bidirectional=True)
    onnx_export('gru_l2_bi', gru, x, h0)
    gru, x, h0 = gru_case('gru_l2', layers=2, bidirectional=False)
    onnx_export('gru_l2', gru, x, h0)
    gru_case('gru_packed_bi', layers=1, bidirectional=True, lengths=[5, 2, 4])
    gru_case('gru_packed_l2_bf', layers=2, bidirectional=False, lengths=[3, 5, 1], batch_first=True)
    gru_cell_case()
    lstm_case()
    embedding_linear_ce_case()
    optimizer_case('optim_sgd', lambda p: (torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
                                           {'name': 'SGD', 'lr': 0.1, 'momentum': 0.9, 'nesterov': True,
                                            'weightDecay': 0.01}))
    optimizer_case('optim_adam', lambda p: (torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.01),
                                            {'name': 'Adam', 'lr': 0.05, 'betas': [0.8, 0.99], 'weightDecay': 0.01}))
    optimizer_case('optim_adamw', lambda p: (torch.optim.AdamW(p, lr=0.05, weight_decay=0.1),
                                             {'name': 'AdamW', 'lr': 0.05, 'weightDecay': 0.1}))
    training_case()
    print(f'pytorch-fixtures: torch {torch.__version__}, wrote', ', '.join(sorted(os.listdir(OUT))), file=sys.stderr)


if __name__ == '__main__':
    main()
