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
    private static readonly Lazy<jit.ScriptModule?> s_memory = new(LoadMemory);
    private static readonly ConditionalWeakTable<Linear, Packed> s_packed = new();
    private static readonly ConditionalWeakTable<Linear, object> s_geluTanh = new();

    /// <summary>Whether packed products can run on <paramref name="device"/> (a CPU libtorch built with oneDNN).</summary>
    public static bool Available(Device device) => device.type == DeviceType.CPU && s_ops.Value is not null;

    /// <summary>Whether <paramref name="layer"/>'s weight is packed.</summary>
    public static bool IsPacked(Linear layer) => s_packed.TryGetValue(layer, out _);

    /// <summary>How <paramref name="model"/>'s linear weights are stored: <c>packed</c> when <see cref="Pack"/> packed them, else <c>plain</c>.</summary>
    public static string LayoutOf(nn.Module model) => model.modules().OfType<Linear>().Any(IsPacked) ? "packed" : "plain";

    /// <summary>
    /// <paramref name="layer"/>(x): where its weight is packed, the packed product — in C# for a few rows where the
    /// weight can be read there (<see cref="BlockedProduct"/>), else oneDNN's — else the layer's own forward.
    /// </summary>
    public static Tensor Forward(Linear layer, Tensor x) =>
        !s_packed.TryGetValue(layer, out var packed) ? layer.forward(x)
        : packed.Host is { } host && BlockedProduct.Takes(host, x) ? HostForward(layer, host, x)
        : Invoke(layer, x, layer.bias is null ? "linear" : "linear_bias");

    private static Tensor HostForward(Linear layer, BlockedWeight host, Tensor x)
    {
        var weight = layer.weight!;
        ObjectDisposedException.ThrowIf(weight.IsInvalid, weight);   // its address would point at freed memory
        var y = BlockedProduct.Forward(host, x);
        GC.KeepAlive(weight);
        return y;
    }

    /// <summary>The C# view of <paramref name="layer"/>'s packed weight, where it has no bias and could be read (<see cref="BlockedProduct.Read"/>).</summary>
    public static BlockedWeight? HostView(Linear layer) => s_packed.TryGetValue(layer, out var packed) ? packed.Host : null;

    /// <summary>
    /// Lets products of up to <paramref name="rows"/> rows by <paramref name="model"/>'s layers that have a C# view
    /// (<see cref="HostView"/>) run in C# (<see cref="BlockedProduct"/>; 0: none). Returns the number of those layers.
    /// </summary>
    public static int SetHostRows(nn.Module model, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        int layers = 0;
        foreach (var layer in model.modules().OfType<Linear>())
            if (HostView(layer) is { } host)
            {
                host.HostRows = rows;
                layers++;
            }
        return layers;
    }

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
            var host = layer.bias is null ? ReadHost(weight, blocked) : null;   // the C# product adds no bias
            layer.weight = new Parameter(blocked, requires_grad: false);
            weight.Dispose();
            s_packed.Add(layer, new Packed(host));
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

    /// <summary>A C# view of <paramref name="blocked"/>, packed from <paramref name="plain"/>; null where its memory cannot be reached or read.</summary>
    private static BlockedWeight? ReadHost(Tensor plain, Tensor blocked)
    {
        if (s_memory.Value is not { } memory) return null;
        try
        {
            long address = ((Scalar)memory.invoke("address", blocked)).ToInt64(), bytes = ((Scalar)memory.invoke("bytes", blocked)).ToInt64();
            return BlockedProduct.Read(plain, (nint)address, bytes);
        }
        catch (Exception e) when (e is ExternalException or InvalidCastException)
        {
            return null;
        }
    }

    private sealed record Packed(BlockedWeight? Host);

    /// <summary>
    /// A product in C# on a packed copy of a [N, K] bf16 weight, for timing (<see cref="BlockedProduct"/>, any row
    /// count); null where the packed weight cannot be read from C#.
    /// </summary>
    public static Func<Tensor, Tensor>? HostProduct(Tensor weight, long rows)
    {
        if (!Available(weight.device) || weight.dtype != ScalarType.BFloat16) return null;
        try
        {
            var blocked = (Tensor)s_ops.Value!.invoke("pack", weight, rows);
            if (ReadHost(weight, blocked) is not { } host) return null;
            host.HostRows = int.MaxValue;
            return x =>
            {
                var y = BlockedProduct.Forward(host, x);
                GC.KeepAlive(blocked);
                return y;
            };
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

    /// <summary>
    /// Where a packed weight's elements lie, and how many bytes they take (<c>mkldnn::data_ptr</c>, <c>mkldnn::_nbytes</c>;
    /// a packed tensor is oneDNN's opaque kind, whose address TorchSharp's accessors do not give). Apart from
    /// <see cref="Code"/>, so that a libtorch without them still packs.
    /// </summary>
    private const string MemoryCode = """
          def address(self: __torch__.PackedWeightMemory,
            w: Tensor) -> int:
            return ops.mkldnn.data_ptr(w)
          def bytes(self: __torch__.PackedWeightMemory,
            w: Tensor) -> int:
            return ops.mkldnn._nbytes(w)

        """;

    private static jit.ScriptModule? LoadMemory() =>
        s_ops.Value is not { } ops ? null
        : ScriptModules.Load("PackedWeightMemory", MemoryCode, module =>
        {
            var w = (Tensor)ops.invoke("pack", torch.ones(64, 64, dtype: ScalarType.BFloat16), 2L);
            if (((Scalar)module.invoke("bytes", w)).ToInt64() < 64 * 64 * 2 || ((Scalar)module.invoke("address", w)).ToInt64() == 0)
                throw new InvalidOperationException("a packed weight's memory is not where it should be");
        });

    /// <summary>The script module, checked by one packed product; null where libtorch cannot load or run it.</summary>
    private static jit.ScriptModule? LoadOps() =>
        ScriptModules.Load("PackedLinearOps", Code, module =>
        {
            var w = torch.ones(8, 8, dtype: ScalarType.BFloat16);
            _ = ((Tensor)module.invoke("linear", torch.ones(2, 8, dtype: ScalarType.BFloat16), (Tensor)module.invoke("pack", w, 2L))).sum().item<BFloat16>();
        });
}
