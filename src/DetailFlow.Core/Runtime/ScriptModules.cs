using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace DetailFlow.Core.Runtime;

/// <summary>
/// TorchScript modules built in memory, for libtorch operators TorchSharp does not bind (oneDNN's packed products, the
/// in-place batched product): a class with no parameters whose methods call them, written into TorchScript's archive
/// format (the class's code, the pickled instance with <c>training = False</c>, no constants) and loaded once.
/// </summary>
internal static class ScriptModules
{
    /// <summary>
    /// The module of class <paramref name="name"/> with <paramref name="methods"/> (TorchScript source, indented two
    /// spaces, each naming <c>self: __torch__.NAME</c>), after <paramref name="check"/> ran on it without autograd; null
    /// where libtorch cannot load or run it.
    /// </summary>
    public static jit.ScriptModule? Load(string name, string methods, Action<jit.ScriptModule> check)
    {
        try
        {
            var module = torch.jit.load(Archive(name, methods), DeviceType.CPU);
            module.eval();
            using var noGrad = torch.no_grad();
            using var scope = torch.NewDisposeScope();
            check(module);
            return module;
        }
        catch (Exception e) when (e is ExternalException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    private static byte[] Archive(string name, string methods)
    {
        string code = $"""
            class {name}(Module):
              __parameters__ = []
              __buffers__ = []
              training : bool
              def forward(self: __torch__.{name},
                x: Tensor) -> Tensor:
                return x

            """ + methods;
        var instance = new List<byte> { 0x80, 0x02, (byte)'c' };                                     // PROTO 2, GLOBAL
        instance.AddRange(Encoding.ASCII.GetBytes($"__torch__\n{name}\n"));
        instance.AddRange([(byte)')', 0x81, (byte)'}', (byte)'X', 8, 0, 0, 0]);                  // (), NEWOBJ, {}, "training"
        instance.AddRange(Encoding.ASCII.GetBytes("training"));
        instance.AddRange([0x89, (byte)'s', (byte)'b', (byte)'.']);                                // False, SETITEM, BUILD, STOP
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string entryName, byte[] bytes)
            {
                using var entry = zip.CreateEntry("module/" + entryName, CompressionLevel.NoCompression).Open();
                entry.Write(bytes);
            }
            Add("data.pkl", [.. instance]);
            Add("code/__torch__.py", Encoding.UTF8.GetBytes(code.ReplaceLineEndings("\n")));
            Add("constants.pkl", [0x80, 0x02, (byte)')', (byte)'.']);
            Add("version", "3\n"u8.ToArray());
        }
        return stream.ToArray();
    }
}
