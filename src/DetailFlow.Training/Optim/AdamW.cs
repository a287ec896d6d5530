using System.Collections;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Training.Optim;

/// <summary>
/// AdamW exactly as <c>torch.optim.AdamW</c> (non-amsgrad, non-maximize): p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g;
/// v ← β2·v + (1 − β2)·g²; p ← p − lr/(1 − β1ᵗ) · m / (√v/√(1 − β2ᵗ) + ε). Written here rather than taken from
/// TorchSharp so its state is a plain dictionary of tensors that pickles into the official checkpoint layout and
/// restores exactly (resume). Parameters are kept by name; each has its own weight decay (official
/// <c>creat_optimizer</c>: decay on tensors with ≥ 2 dims only). Adam without decay is the case wd = 0.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly (string Name, Tensor Param, double WeightDecay)[] _params;
    private readonly Dictionary<string, (Tensor ExpAvg, Tensor ExpAvgSq)> _state = new(StringComparer.Ordinal);

    public AdamW(IEnumerable<(string Name, Tensor Param, double WeightDecay)> parameters, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _params = parameters.ToArray();
        if (_params.Length == 0) throw new ArgumentException("no parameters to optimise", nameof(parameters));
        if (beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1)");
        if (beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1)");
        if (eps <= 0) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive");
        (Beta1, Beta2, Eps) = (beta1, beta2, eps);
    }

    /// <summary>Official param groups: weight decay <paramref name="weightDecay"/> on tensors with ≥ 2 dims, 0 on the rest.</summary>
    public static AdamW ForModule(nn.Module module, double weightDecay, double beta1, double beta2, double eps = 1e-8) =>
        new(module.named_parameters().Where(p => p.parameter.requires_grad)
            .Select(p => (p.name, (Tensor)p.parameter, p.parameter.dim() >= 2 ? weightDecay : 0.0)), beta1, beta2, eps);

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }

    /// <summary>Completed optimisation steps (PyTorch keeps one per parameter; they are always equal here).</summary>
    public long StepCount { get; private set; }

    public IReadOnlyList<(string Name, Tensor Param, double WeightDecay)> Parameters => _params;

    public void ZeroGrad()
    {
        foreach (var (_, p, _) in _params)
        {
            var g = p.grad;
            if (g is not null) { g.Dispose(); p.grad = null; }
        }
    }

    /// <summary>
    /// One training update from <paramref name="loss"/>: gradients cleared, back-propagated, the gradients of
    /// <paramref name="module"/> clipped to norm <paramref name="maxGradNorm"/> (0: no clipping), a <see cref="Step"/> at
    /// <paramref name="lr"/>, gradients cleared again.
    /// </summary>
    public void Minimize(Tensor loss, nn.Module module, double maxGradNorm, double lr)
    {
        ZeroGrad();
        loss.backward();
        if (maxGradNorm > 0) torch.nn.utils.clip_grad_norm_(module.parameters(), maxGradNorm);
        Step(lr);
        ZeroGrad();
    }

    /// <summary>One update with learning rate <paramref name="lr"/>; parameters without a gradient are left alone.</summary>
    public void Step(double lr)
    {
        if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), lr, "learning rate must be non-negative");
        StepCount++;
        double bias1 = 1 - Math.Pow(Beta1, StepCount), bias2 = 1 - Math.Pow(Beta2, StepCount);
        double stepSize = lr / bias1, bias2Sqrt = Math.Sqrt(bias2);
        using var noGrad = torch.no_grad();
        foreach (var (name, p, wd) in _params)
        {
            using var scope = torch.NewDisposeScope();
            var g = p.grad;
            if (g is null) continue;
            if (!_state.TryGetValue(name, out var s))
            {
                s = (torch.zeros_like(p).DetachFromDisposeScope(), torch.zeros_like(p).DetachFromDisposeScope());
                _state[name] = s;
            }
            if (wd != 0) p.mul_(1 - lr * wd);
            s.ExpAvg.lerp_(g, 1 - Beta1);
            s.ExpAvgSq.mul_(Beta2).addcmul_(g, g, 1 - Beta2);
            var denom = (s.ExpAvgSq.sqrt() / bias2Sqrt).add_(Eps);
            p.addcdiv_(s.ExpAvg, denom, -stepSize);
        }
    }

    /// <summary>
    /// The state as a picklable dictionary: <c>{"state": {name: {"exp_avg", "exp_avg_sq"}}, "step": n, "betas": [β1, β2],
    /// "eps": ε}</c> (keyed by parameter name, not PyTorch's integer index).
    /// </summary>
    public Hashtable StateDict()
    {
        var state = new Hashtable();
        foreach (var (name, (m, v)) in _state)
            state[name] = new Hashtable { ["exp_avg"] = m, ["exp_avg_sq"] = v };
        return new Hashtable { ["state"] = state, ["step"] = StepCount, ["beta1"] = Beta1, ["beta2"] = Beta2, ["eps"] = Eps };
    }

    /// <summary>Restores <see cref="StateDict"/> output; every moment tensor must name a parameter of this optimizer with its shape.</summary>
    public void LoadStateDict(Hashtable dict, string source)
    {
        ArgumentNullException.ThrowIfNull(dict);
        if (dict["state"] is not Hashtable state) throw new InvalidDataException($"{source}: optimizer state has no 'state' dictionary");
        var byName = _params.ToDictionary(p => p.Name, p => p.Param, StringComparer.Ordinal);
        foreach (var s in _state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        _state.Clear();
        foreach (DictionaryEntry e in state)
        {
            string name = e.Key.ToString()!;
            if (!byName.TryGetValue(name, out var p)) throw new InvalidDataException($"{source}: optimizer state for unknown parameter '{name}'");
            if (e.Value is not Hashtable h || h["exp_avg"] is not Tensor m || h["exp_avg_sq"] is not Tensor v)
                throw new InvalidDataException($"{source}: optimizer state of '{name}' lacks exp_avg / exp_avg_sq tensors");
            if (!m.shape.SequenceEqual(p.shape) || !v.shape.SequenceEqual(p.shape))
                throw new InvalidDataException($"{source}: optimizer state of '{name}' has shape [{string.Join(", ", m.shape)}], the parameter [{string.Join(", ", p.shape)}]");
            _state[name] = (m.to(p.dtype, p.device).clone().DetachFromDisposeScope(), v.to(p.dtype, p.device).clone().DetachFromDisposeScope());
        }
        StepCount = Convert.ToInt64(dict["step"] ?? throw new InvalidDataException($"{source}: optimizer state has no 'step'"), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        foreach (var s in _state.Values) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
        _state.Clear();
    }
}
