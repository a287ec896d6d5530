using System.Text.Json;
using System.Text.Json.Serialization;

namespace DetailFlow.Api.Endpoints;

/// <summary>
/// A field that JSON may give as a number or a string and a query string gives as text, read the same way from both
/// (so the GET routes bind the POST routes' request types directly). Never fails to bind: a value of the wrong kind is
/// kept as <see cref="Invalid"/> for the validator to report against its field.
/// </summary>
public readonly record struct FlexibleValue(string? Text, long? Number, bool Invalid)
{
    public static FlexibleValue FromText(string text) => new(text, null, false);

    /// <summary>Query binding: always text.</summary>
    public static bool TryParse(string? value, out FlexibleValue result)
    {
        result = FromText(value ?? "");
        return true;
    }
}

/// <summary>Reads a <see cref="FlexibleValue"/> from any JSON value without throwing (see there).</summary>
public sealed class FlexibleValueConverter : JsonConverter<FlexibleValue>
{
    public override FlexibleValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number:
                return reader.TryGetInt64(out long n) ? new FlexibleValue(null, n, false) : new FlexibleValue(null, null, true);
            case JsonTokenType.String:
                try { return FlexibleValue.FromText(reader.GetString()!); }
                catch (InvalidOperationException) { return new FlexibleValue(null, null, true); }   // a lone surrogate
            default:
                reader.Skip();
                return new FlexibleValue(null, null, true);
        }
    }

    public override void Write(Utf8JsonWriter writer, FlexibleValue value, JsonSerializerOptions options)
    {
        if (value.Number is { } n) writer.WriteNumberValue(n);
        else if (value.Text is { } t) writer.WriteStringValue(t);
        else writer.WriteNullValue();
    }
}
