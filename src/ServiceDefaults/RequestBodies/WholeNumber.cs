using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Portico.ServiceDefaults.RequestBodies;

/// <summary>
/// A required JSON whole number from <see cref="Minimum"/> to <see cref="Maximum"/>, on a <c>long?</c> read with
/// <see cref="WholeNumberConverter"/>: anything else there (text, a fraction, out of range, missing, null) fails with
/// one message that says what is expected.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter, AllowMultiple = false)]
public sealed class WholeNumberAttribute(long minimum, long maximum) : ValidationAttribute("{0} must be a whole number from {1} to {2}.")
{
    public long Minimum => minimum;

    public long Maximum => maximum;

    public override bool IsValid(object? value) => value is long number && number >= minimum && number <= maximum;

    /// <summary>Names the field as the client wrote it (camelCase), not as the C# property.</summary>
    public override string FormatErrorMessage(string name) =>
        string.Format(CultureInfo.InvariantCulture, ErrorMessageString, JsonNamingPolicy.CamelCase.ConvertName(name), minimum, maximum);
}

/// <summary>
/// Reads a JSON number that fits a <see cref="long"/>, and anything else as null, without throwing: the serializer stops
/// at its first fault, so a body with a wrongly typed number and other faults would be answered with that one alone.
/// Read this way, <see cref="WholeNumberAttribute"/> reports it among all the others.
/// </summary>
public sealed class WholeNumberConverter : JsonConverter<long?>
{
    public override bool HandleNull => true;

    public override long? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number))
        {
            return number;
        }
        reader.Skip(); // an object or array is passed over whole; a single token needs nothing
        return null;
    }

    public override void Write(Utf8JsonWriter writer, long? value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (value is { } number)
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
