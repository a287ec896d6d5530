using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// Linear layers whose weights are stored in oneDNN's blocked layout. A plain bf16/fp16 <c>linear</c> on a CPU hands
/// oneDNN a row-major weight, which it copies into its blocked layout on every call: at the few rows of a decode step
/// that copy costs about as much as the product (docs/performance.md, "Packed weights"). Packed once at load
/// (<c>mkldnn::_reorder_linear_weight</c>), the products run <c>mkldnn::_linear_pointwise</c> on the blocked weight.
/// Those two libtorch operators are reachable only through TorchScript, so a script module is built in memory and
/// loaded once (<see cref="ScriptModules"/>). A packed weight replaces the layer's parameter (same shape and dtype,
/// opaque layout): only <see cref="Forward"/> can multiply by it, and the layer serves inference only.
/// </summary>
public static class PackedLinear
{
    private static readonly Lazy<jit.ScriptModule?> s_ops = new(LoadOps);
    private static readonly ConditionalWeakTable<Linear, object> s_packed = new();
    private static readonly ConditionalWeakTable<Linear, object> s_geluTanh = new();

    /// <summary>Whether packed products can run on <paramref name="device"/> (a CPU libtorch built with oneDNN).</summary>
    public static bool Available(Device device) => device.type == DeviceType.CPU && s_ops.Value is not null;

    /// <summary>Whether <paramref name="layer"/>'s weight is packed.</summary>
    public static bool IsPacked(Linear layer) => s_packed.TryGetValue(layer, out _);

    /// <summary>How <paramref name="model"/>'s linear weights are stored: <c>packed</c> when <see cref="Pack"/> packed them, else <c>plain</c>.</summary>
    public static string LayoutOf(nn.Module model) => model.modules().OfType<Linear>().Any(IsPacked) ? "packed" : "plain";

    /// <summary><paramref name="layer"/>(x): the packed product where its weight is packed, else the layer's own forward.</summary>
    public static Tensor Forward(Linear layer, Tensor x) =>
        IsPacked(layer) ? Invoke(layer, x, layer.bias is null ? "linear" : "linear_bias") : layer.forward(x);

    /// <summary>
    /// gelu_tanh(<paramref name="layer"/>(x)): where the weight is packed, one oneDNN call with the GELU in the product's
    /// epilogue (on its float32 accumulator, so one rounding to the activations' dtype instead of two); else the layer's
    /// forward, then libtorch's GELU.
    /// </summary>
    public static Tensor ForwardGeluTanh(Linear layer, Tensor x) =>
        IsPacked(layer)
            ? Invoke(layer, x, layer.bias is null ? "linear_gelu_tanh" : "linear_bias_gelu_tanh")
            : nn.functional.gelu(layer.forward(x), GELU.Approximate.tanh);

    /// <summary>
    /// Marks <paramref name="layer"/> as one whose output always goes through <see cref="ForwardGeluTanh"/>, so that
    /// <see cref="GemmRows.Warm"/> compiles that kernel rather than the plain product. Returns the layer.
    /// </summary>
    public static Linear WithGeluTanh(Linear layer)
    {
        s_geluTanh.AddOrUpdate(layer, true);
        return layer;
    }

    /// <summary>Whether <paramref name="layer"/> was marked by <see cref="WithGeluTanh"/>.</summary>
    public static bool HasGeluTanh(Linear layer) => s_geluTanh.TryGetValue(layer, out _);

    private static Tensor Invoke(Linear layer, Tensor x, string method)
    {
        if (x.dim() != 2)
        {
            using var scope = torch.NewDisposeScope();
            long[] shape = [.. x.shape[..^1], layer.weight!.shape[0]];
            return Invoke(layer, x.reshape(-1, x.shape[^1]), method).view(shape).MoveToOuterDisposeScope();
        }
        return layer.bias is { } bias
            ? (Tensor)s_ops.Value!.invoke(method, x, layer.weight!, bias)
            : (Tensor)s_ops.Value!.invoke(method, x, layer.weight!);
    }

    /// <summary>
    /// Packs the weight of every bf16/fp16 linear layer of <paramref name="model"/> on a CPU (inference only; the plain
    /// weights are freed; fp32 runs MKL's products, which take no packed weight from here).
    /// <paramref name="rows"/>: the row count the blocked layout is chosen for (any row count runs on it). Returns the
    /// number of layers packed; 0 where <see cref="Available"/> is false.
    /// </summary>
    public static int Pack(nn.Module model, long rows)
    {
        int packed = 0;
        using var noGrad = torch.no_grad();
        foreach (var layer in model.modules().OfType<Linear>())
        {
            if (IsPacked(layer) || layer.weight is not { } weight || !GemmRows.Pads(weight) || !Available(weight.device)) continue;
            var blocked = (Tensor)s_ops.Value!.invoke("pack", weight, rows);
            layer.weight = new Parameter(blocked, requires_grad: false);
            weight.Dispose();
            s_packed.Add(layer, true);
            packed++;
        }
        return packed;
    }

    /// <summary>
    /// A product on a packed copy of a [N, K] weight, for timing: <c>x → x·wᵀ</c>, or gelu_tanh(x·wᵀ) in one call with
    /// <paramref name="geluTanh"/>. Null where packed products cannot run for this weight (no oneDNN, or no kernel for
    /// its dtype).
    /// </summary>
    public static Func<Tensor, Tensor>? Product(Tensor weight, long rows, bool geluTanh = false)
    {
        if (!Available(weight.device)) return null;
        try
        {
            var ops = s_ops.Value!;
            var blocked = (Tensor)ops.invoke("pack", weight, rows);
            string method = geluTanh ? "linear_gelu_tanh" : "linear";
            return x => (Tensor)ops.invoke(method, x, blocked);
        }
        catch (Exception e) when (e is ExternalException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    private const string Code = """
          def pack(self: __torch__.PackedLinearOps,
            w: Tensor,
            rows: int) -> Tensor:
            return ops.mkldnn._reorder_linear_weight(w, rows)
          def linear(self: __torch__.PackedLinearOps,
            x: Tensor,
            w: Tensor) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, None, "none", annotate(List[Optional[number]], []), None)
          def linear_bias(self: __torch__.PackedLinearOps,
            x: Tensor,
            w: Tensor,
            b: Tensor) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "none", annotate(List[Optional[number]], []), None)
          def linear_gelu_tanh(self: __torch__.PackedLinearOps,
            x: Tensor,
            w: Tensor) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, None, "gelu", annotate(List[Optional[number]], []), "tanh")
          def linear_bias_gelu_tanh(self: __torch__.PackedLinearOps,
            x: Tensor,
            w: Tensor,
            b: Tensor) -> Tensor:
            return ops.mkldnn._linear_pointwise(x, w, b, "gelu", annotate(List[Optional[number]], []), "tanh")

        """;

    /// <summary>The script module, checked by one packed product; null where libtorch cannot load or run it.</summary>
    private static jit.ScriptModule? LoadOps() =>
        ScriptModules.Load("PackedLinearOps", Code, module =>
        {
            var w = torch.ones(8, 8, dtype: ScalarType.BFloat16);
            _ = ((Tensor)module.invoke("linear", torch.ones(2, 8, dtype: ScalarType.BFloat16), (Tensor)module.invoke("pack", w, 2L))).sum().item<BFloat16>();
        });
}
