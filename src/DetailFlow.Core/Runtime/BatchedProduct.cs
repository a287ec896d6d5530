using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// <c>output ← α · a·b</c> for a batch of matrices, written into <c>output</c> (a view of a kept buffer, any strides) by
/// libtorch's in-place <c>baddbmm_</c> with β = 0, which TorchSharp does not bind: one call for every head of an image
/// instead of one product per head, and no fresh result tensor (<see cref="ScriptModules"/>).
/// </summary>
public static class BatchedProduct
{
    private static readonly Lazy<jit.ScriptModule?> s_ops = new(() => ScriptModules.Load("BatchedProductOps", Code, module =>
        Into(module, torch.zeros(1, 2, 2), torch.ones(1, 2, 3), torch.ones(1, 3, 2), 1)));

    /// <summary>Whether the script module loads on this libtorch.</summary>
    public static bool Available => s_ops.Value is not null;

    /// <summary>Writes α · <paramref name="a"/>·<paramref name="b"/> ([N, M, K]·[N, K, P]) into <paramref name="output"/> [N, M, P].</summary>
    public static void Into(Tensor output, Tensor a, Tensor b, double alpha) => Into(s_ops.Value!, output, a, b, alpha);

    private static void Into(jit.ScriptModule ops, Tensor output, Tensor a, Tensor b, double alpha) =>
        ((Tensor)ops.invoke("into", output, a, b, alpha)).Dispose();   // the returned alias of output

    private const string Code = """
          def into(self: __torch__.BatchedProductOps,
            output: Tensor,
            a: Tensor,
            b: Tensor,
            alpha: float) -> Tensor:
            return torch.baddbmm_(output, a, b, beta=0., alpha=alpha)

        """;
}
