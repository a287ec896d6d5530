using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// The address of a CPU tensor's first element, for kernels written in C#. TorchSharp does not expose it; its native
/// library does (<c>THSTensor_data</c>, what TorchSharp's own accessors call). The caller keeps the tensor alive while it
/// uses the address.
/// </summary>
public static class TensorMemory
{
    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The first element of <paramref name="tensor"/> (a CPU tensor; any strides).</summary>
    public static unsafe void* Address(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU)
            throw new ArgumentException($"a {tensor.device_type} tensor has no host address", nameof(tensor));
        return (void*)THSTensor_data(tensor.Handle);
    }
}
