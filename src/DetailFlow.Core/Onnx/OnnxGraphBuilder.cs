using System.Runtime.InteropServices;
using DetailFlow.Core.Onnx.Proto;
using Google.Protobuf;
using static TorchSharp.torch;

namespace DetailFlow.Core.Onnx;

/// <summary>
/// Appends nodes, initializers, inputs and outputs to an ONNX <see cref="GraphProto"/>. Node outputs get unique names
/// from the node name; <see cref="Weight"/> copies a tensor as float32 raw data.
/// </summary>
internal sealed class OnnxGraphBuilder(string name)
{
    public const string MicrosoftDomain = "com.microsoft";

    public GraphProto Graph { get; } = new() { Name = name };
    private int _next;

    /// <summary>A float32 initializer holding <paramref name="tensor"/> (any dtype/device; copied).</summary>
    public string Weight(string name, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var f = tensor.detach().to(float32).cpu().contiguous();
        var data = f.data<float>().ToArray();
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan())) };
        proto.Dims.AddRange(f.shape);
        Graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>An int64 constant initializer (shapes, axes, slice bounds).</summary>
    public string Int64s(string name, params long[] values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        proto.Dims.Add(values.Length);
        Graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>A float32 scalar constant initializer.</summary>
    public string Scalar(string name, float value)
    {
        Graph.Initializer.Add(new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) });
        return name;
    }

    /// <summary>Adds one node with one output and returns the output's name.</summary>
    public string Node(string opType, string nodeName, IEnumerable<string> inputs, params AttributeProto[] attributes) =>
        NodeIn("", opType, nodeName, inputs, attributes);

    /// <summary>Adds one node of <paramref name="domain"/> (e.g. <see cref="MicrosoftDomain"/>) with one output.</summary>
    public string NodeIn(string domain, string opType, string nodeName, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        string unique = $"{nodeName}_{_next++}";
        var node = new NodeProto { OpType = opType, Name = unique, Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.Add(unique + "_out");
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return unique + "_out";
    }

    /// <summary>Renames the output <paramref name="output"/> of the last node to the graph output <paramref name="name"/>.</summary>
    public void NameOutput(string output, string name)
    {
        var last = Graph.Node[^1];
        if (last.Output[0] != output) throw new InvalidOperationException($"{output} is not the last node's output");
        last.Output[0] = name;
    }

    /// <summary>A graph input or output: element type and dims, each a fixed size (long) or a symbolic name (string).</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                long v => new TensorShapeProto.Types.Dimension { DimValue = v },
                int v => new TensorShapeProto.Types.Dimension { DimValue = v },
                _ => throw new ArgumentException($"dimension {d} must be a size or a name", nameof(dims)),
            });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Text(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}
