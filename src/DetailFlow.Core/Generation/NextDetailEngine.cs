using System.Diagnostics;
using DetailFlow.Core.Gpt;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Generation;

/// <summary>
/// KV-cached next-detail generation (spec §7.4), gpt-fast style, for many requests at once. Each step runs one forward
/// over every live row: a new request feeds its class token (or its whole continuation prefix), a request in the
/// causal phase one code, later requests one group of G positions; blocks of different lengths are laid out on a padded
/// grid whose padding goes to the cache's trash slot, and such a mixed step runs packed (the projections and the
/// feed-forward see only real positions, <see cref="StepBatch"/>; <see cref="MinPackedSavingFlops"/>), so a newcomer's causal steps
/// cost the batch one position per row instead of a G-wide block. Rotary rows and mask rows come from absolute positions; K/V buffers are
/// preallocated. With CFG a request holds two cache rows (conditional and null class). Requests submitted while others
/// run join at the next step; finished or cancelled requests free their rows before the next forward, and the live
/// rows stay packed at the front of the cache. Codes are drawn per (seed, code index) (<see cref="RowSampler"/>), so a
/// request's codes do not depend on its batch mates or on where it stops. A request that wants its first codes early
/// (<see cref="GenerationRequest.EagerCodes"/>: a stream's first preview) steps apart from batch mates feeding groups
/// while that is measured to pay (<see cref="EagerCostRatio"/>). Single consumer: one thread calls
/// <see cref="Step"/>; <see cref="Submit"/> may be called from any thread. Never logs or prints.
/// </summary>
public sealed class NextDetailEngine : IDisposable
{
    private readonly GptTransformer _model;
    private readonly SequenceLayout _layout;
    private readonly KvCache _cache;
    private readonly RowSampler _sampler;
    private readonly Queue<GenerationRow> _pending = new();
    private readonly List<GenerationRow> _active = [];
    private readonly List<(GenerationRow Row, bool IsNull)> _slots = [];  // index = cache row
    private readonly Lock _pendingLock = new();
    private readonly Lock _stepLock = new();
    private readonly StepCosts _costs = new();
    private long _nextId;
    private int _eagerRun;   // eager steps in a row

    /// <param name="model">The GPT (shared; not owned).</param>
    /// <param name="maxRows">Cache rows: a request with CFG takes 2, without 1.</param>
    public NextDetailEngine(GptTransformer model, int maxRows) : this(model, maxRows, MinPackedSavingFlops)
    {
    }

    /// <summary>Test seam: 0 packs every mixed step, +∞ none (the two paths must give the same codes).</summary>
    internal NextDetailEngine(GptTransformer model, int maxRows, double minPackedSavingFlops)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        if (maxRows < 2) throw new ArgumentOutOfRangeException(nameof(maxRows), maxRows, "need at least 2 rows (one guided request)");
        _layout = model.Layout;
        _cache = new KvCache(model.Config, maxRows, model.DType, model.Device);
        _sampler = new RowSampler();
        _packFrom = StepBatch.PackFrom(model.Config, minPackedSavingFlops);
        _onePass = CachedAttention.Supports(model.DType, model.Device, model.Config.HeadDim);
    }

    public int MaxRows => _cache.MaxRows;

    /// <summary>Bytes of the engine's KV cache (allocated with the engine, whatever the rows in use).</summary>
    public long CacheBytes => _cache.Bytes;

    public int ActiveRequests => _active.Count;

    public int PendingRequests
    {
        get { lock (_pendingLock) return _pending.Count; }
    }

    /// <summary>
    /// Linear-layer FLOPs per layer that a step's padding must cost before the step runs packed (the same results as
    /// the padded grid up to float summation order): the skipped padding must save more arithmetic than the packing's
    /// gathers cost. From the first padding position on a model of dim ≥ 512, from the third at dim 256, in practice
    /// never on a tiny test model (docs/performance.md).
    /// </summary>
    public const double MinPackedSavingFlops = 4e6;

    private readonly int _packFrom;   // padding positions from which a mixed step runs packed
    private readonly bool _onePass;   // whether the model's cached forwards can attend in one pass (GptTransformer.OnePassAttentionRows)

    /// <summary>Forwards run packed so far (steps whose rows fed blocks of different lengths).</summary>
    public long PackedSteps { get; private set; }

    /// <summary>Forwards so far whose attention ran in one pass (<see cref="GptTransformer.OnePassAttentionRows"/>).</summary>
    public long OnePassSteps { get; private set; }

    /// <summary>
    /// How many times a whole step must be known to cost (measured as the engine runs: <see cref="StepCosts"/>) a step
    /// of the eager rows alone before they run apart: each such step then saves the newcomer at least twice what it
    /// costs its batch mates. 0: whenever eager rows and others share a step; +∞: never.
    /// </summary>
    public double EagerCostRatio { get; init; } = DefaultEagerCostRatio;

    public const double DefaultEagerCostRatio = 3;

    /// <summary>Forwards so far that fed only the eager rows.</summary>
    public long EagerSteps { get; private set; }

    /// <summary>Cache rows in use.</summary>
    public int RowsInUse => _slots.Count;

    /// <summary>
    /// Validates <paramref name="request"/> (throws <see cref="ArgumentException"/> before any tensor work) and queues
    /// it; it joins at the next <see cref="Step"/> with free rows. A prefix that already reaches the detail completes
    /// at once.
    /// </summary>
    public GenerationRow Submit(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate(_model.Config);
        var row = new GenerationRow(Interlocked.Increment(ref _nextId), request, request.Detail ?? _model.Config.BlockSize);
        if (row.IsDone)
        {
            row.Complete();
            return row;
        }
        lock (_pendingLock) _pending.Enqueue(row);
        return row;
    }

    /// <summary>
    /// Admits waiting requests, drops cancelled ones, runs one forward over every live row, samples, reports progress
    /// and retires finished requests. Returns whether work remains (live or waiting requests).
    /// </summary>
    public bool Step()
    {
        lock (_stepLock)
        {
            Admit();
            foreach (var row in _active.Where(r => r.Request.CancellationToken.IsCancellationRequested).ToList())
            {
                Retire(row);
                row.Cancel();
            }
            if (_active.Count == 0) return PendingRequests > 0;

            var (stepping, firstSlot) = ChooseRows();
            long[][] drawn;
            try
            {
                drawn = Forward(stepping, firstSlot);
            }
            catch (Exception error)
            {
                // The failure belongs to every live request of the batch: fault them, free the cache, rethrow.
                foreach (var row in _active.ToList()) { Retire(row); row.Fail(error); }
                throw;
            }

            var progress = new List<(GenerationRow Row, GroupProgress Payload)>();
            var done = new List<GenerationRow>();
            for (int i = 0; i < stepping.Count; i++)
            {
                var row = stepping[i];
                row.FedEnd = _layout.ExtendedLength(row.Codes.Count);
                row.Codes.AddRange(drawn[i]);
                int t = row.Codes.Count;
                progress.Add((row, new GroupProgress(row.Id, [.. row.Codes], t, _layout.IsOnSchedule(t), row.IsDone)));
                if (row.IsDone) done.Add(row);
            }
            foreach (var row in done) Retire(row);
            try
            {
                // The last progress report comes before the completion.
                foreach (var (row, payload) in progress) row.Request.Progress?.Invoke(payload);
            }
            finally
            {
                foreach (var row in done) row.Complete();
            }
            return _active.Count > 0 || PendingRequests > 0;
        }
    }

    /// <summary>Steps until no request is live or waiting.</summary>
    public void RunUntilIdle(CancellationToken cancellationToken = default)
    {
        while (Step()) cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Submits every request, runs them to completion and returns their codes in order.</summary>
    public long[][] Generate(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellationToken = default)
    {
        var rows = requests.Select(Submit).ToList();
        RunUntilIdle(cancellationToken);
        return rows.Select(r => r.Completion.GetAwaiter().GetResult()).ToArray();
    }

    private void Admit()
    {
        lock (_pendingLock)
        {
            while (_pending.Count > 0)
            {
                var row = _pending.Peek();
                if (row.Request.CancellationToken.IsCancellationRequested)
                {
                    _pending.Dequeue();
                    row.Cancel();
                    continue;
                }
                int needed = row.Request.Options.UsesGuidance ? 2 : 1;
                if (_slots.Count + needed > _cache.MaxRows)
                {
                    if (_slots.Count == 0)
                        throw new InvalidOperationException($"request {row.Id} needs {needed} rows, the cache has {_cache.MaxRows}");
                    break;
                }
                _pending.Dequeue();
                _active.Add(row);
                _slots.Add((row, false));
                if (needed == 2) _slots.Add((row, true));
            }
        }
    }

    /// <summary>Frees a request's cache rows at once, moving the last live rows into the holes.</summary>
    private void Retire(GenerationRow row)
    {
        _active.Remove(row);
        for (int r = _slots.Count - 1; r >= 0; r--)
        {
            if (_slots[r].Row != row) continue;
            int last = _slots.Count - 1;
            if (r != last)
            {
                _cache.CopyRow(last, r);
                _slots[r] = _slots[last];
            }
            _slots.RemoveAt(last);
        }
    }

    /// <summary>
    /// The requests this step feeds: every live one, or only the eager ones (short of their
    /// <see cref="GenerationRequest.EagerCodes"/>) when the whole step is known to cost <see cref="EagerCostRatio"/>
    /// times theirs alone; their rows are then moved to the end of the cache and run as a block of their own. At most
    /// as many eager steps in a row as the largest EagerCodes, so that newcomers arriving one after another cannot hold
    /// their batch mates back for long.
    /// </summary>
    private (List<GenerationRow> Rows, int FirstSlot) ChooseRows()
    {
        var eager = _active.Where(r => r.Codes.Count < r.Request.EagerCodes).ToList();
        if (eager.Count == 0 || eager.Count == _active.Count || _eagerRun >= eager.Max(r => r.Request.EagerCodes)
            || !_costs.Exceeds(StepBatch.FedPositions(_slots, _layout), StepBatch.FedPositions(_slots.Where(s => eager.Contains(s.Row)), _layout),
                EagerCostRatio))
        {
            _eagerRun = 0;
            return (_active, 0);
        }
        _eagerRun++;
        EagerSteps++;
        return (eager, MoveToEnd(eager));
    }

    /// <summary>Swaps cache rows until <paramref name="rows"/>' are the last ones; returns the first of them.</summary>
    private int MoveToEnd(List<GenerationRow> rows)
    {
        int first = _slots.Count - _slots.Count(s => rows.Contains(s.Row));
        for (int r = 0, q = first; r < first; r++)
        {
            if (!rows.Contains(_slots[r].Row)) continue;
            while (rows.Contains(_slots[q].Row)) q++;
            _cache.SwapRows(r, q);
            (_slots[r], _slots[q]) = (_slots[q], _slots[r]);
        }
        return first;
    }

    /// <summary>
    /// One forward over the cache rows from <paramref name="firstSlot"/> on, which hold <paramref name="rows"/>' (every
    /// live row, or the eager ones); returns the codes drawn for each of <paramref name="rows"/>, in order.
    /// </summary>
    private long[][] Forward(List<GenerationRow> rows, int firstSlot)
    {
        var config = _model.Config;
        var slots = firstSlot == 0 ? _slots : _slots.GetRange(firstSlot, _slots.Count - firstSlot);
        using var part = firstSlot == 0 ? null : _cache.Rows(firstSlot, slots.Count);
        var cache = part ?? _cache;
        var clock = Stopwatch.StartNew();
        var batch = StepBatch.Plan(slots, _layout, config.NullClass, cache.TrashSlot, _packFrom);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var device = _model.Device;
        long[] shape = [batch.Rows, batch.Length];
        var positions = torch.tensor(batch.Positions, shape, device: device);                     // [R, L]
        var valid = torch.tensor(batch.Valid, shape, device: device);
        var firstKey = torch.arange(batch.Width, device: device).eq(0).view(1, 1, 1, batch.Width);
        var mask = torch.where(valid.view(batch.Rows, 1, batch.Length, 1),
            GroupCausalMask.Rows(positions, batch.Width, config.GroupSize, config.EffectiveCausalNum),
            firstKey);                                                                                // [R, 1, L, W]
        bool onePass = _onePass && batch.Rows <= _model.OnePassAttentionRows;
        if (onePass) OnePassSteps++;
        var context = new AttentionContext(_model.RotaryRows(positions), mask, cache,
            torch.tensor(batch.WriteIndex, shape, device: device), batch.Width, OnePass: onePass);
        var h = _model.Embed(torch.tensor(batch.Classes, device: device), positions, torch.tensor(batch.Codes, shape, device: device));
        if (batch.Packed)
        {
            // Mixed block lengths: run the layers on the real positions only ([1, T, D]), not on the padded grid.
            var packIndex = torch.tensor(batch.PackIndex, device: device);
            h = h.view(batch.Rows * batch.Length, -1).index_select(0, packIndex).unsqueeze(0);
            context = context with { Packed = packIndex };
            PackedSteps++;
        }
        h = _model.RunLayers(h, context);                                                             // [R, L, D] or [1, T, D]
        var logits = _model.Head(h.view(-1, h.shape[^1])
            .index_select(0, torch.tensor(batch.OutputIndex, device: device)));                      // [M, V]

        var codes = StepSampling.Draw(logits, batch, rows, slots, _layout, config.BlockSize, _sampler);
        _costs.Record(batch.Packed ? batch.PackIndex.Length : batch.Rows * batch.Length, clock.Elapsed.TotalSeconds);
        return codes;
    }

    public void Dispose()
    {
        _cache.Dispose();
        _sampler.Dispose();
    }
}
