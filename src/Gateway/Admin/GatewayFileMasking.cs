using System.Text;
using System.Text.Json;
using Portico.ServiceDefaults.Logging;

namespace Portico.Gateway.Admin;

/// <summary>
/// The gateway file as the admin API shows it: the text as written (comments and layout kept), with the value of every
/// secret-named key (ServiceDefaults' <see cref="LogRedaction.IsSecretName"/>: password, secret, token, api key …) and
/// the user-info part of every URL replaced by <see cref="Mask"/>. A proposed file that still holds the mask where the
/// version in force has a value gets that value back (<see cref="Unmask"/>), so an operator can edit a masked file and
/// apply it without ever seeing, or losing, a secret.
/// </summary>
internal static class GatewayFileMasking
{
    public const string Mask = "********";

    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 64 };

    public static string MaskSecrets(string text) => Rewrite(text, (path, value) => Masked(path, value));

    /// <summary>The proposed text with each mask put back to the value at the same key in <paramref name="current"/>.</summary>
    public static string Unmask(string proposed, string current)
    {
        if (!proposed.Contains(Mask, StringComparison.Ordinal))
        {
            return proposed;
        }
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        Rewrite(current, (path, value) =>
        {
            values[path] = value;
            return null;
        });
        return Rewrite(proposed, (path, value) => value.Contains(Mask, StringComparison.Ordinal) && values.TryGetValue(path, out var original)
            && Masked(path, original) == value ? original : null);
    }

    /// <summary>What the admin API shows for a string value at <paramref name="path"/>; null when shown as it is.</summary>
    private static string? Masked(string path, string value)
    {
        var key = path[(path.LastIndexOf(':') + 1)..];
        // A template ({{request.headers.Idempotency-Key}}) names a secret without holding one.
        if (LogRedaction.IsSecretName(key) && !(value.StartsWith("{{", StringComparison.Ordinal) && value.EndsWith("}}", StringComparison.Ordinal)))
        {
            return Mask;
        }
        if (value.Contains("://", StringComparison.Ordinal) && Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.UserInfo.Length > 0)
        {
            return value.Replace(uri.UserInfo + "@", Mask + "@", StringComparison.Ordinal);
        }
        return null;
    }

    /// <summary>
    /// Walks every string value with its key path (<c>ReverseProxy:Clusters:a:Metadata:ApiKey</c>, array items by index)
    /// and replaces those for which <paramref name="replace"/> returns a value, leaving every other byte as it was. A text
    /// that does not parse is returned unchanged (validation reports it).
    /// </summary>
    private static string Rewrite(string text, Func<string, string, string?> replace)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(bytes, ReaderOptions);
        var path = new List<string>();
        var arrayIndex = new Stack<int>();
        string? property = null;
        var output = new StringBuilder(text.Length);
        var copied = 0;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        property = reader.GetString();
                        continue;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        path.Add(NextKey(ref property, arrayIndex));
                        arrayIndex.Push(reader.TokenType == JsonTokenType.StartArray ? 0 : -1);
                        continue;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        arrayIndex.Pop();
                        continue;
                    case JsonTokenType.String:
                        var key = NextKey(ref property, arrayIndex);
                        var full = string.Join(':', path.Skip(1).Append(key));
                        if (replace(full, reader.GetString()!) is { } replacement)
                        {
                            var start = (int)reader.TokenStartIndex;
                            var end = (int)reader.BytesConsumed;
                            output.Append(Encoding.UTF8.GetString(bytes, copied, start - copied));
                            output.Append(JsonSerializer.Serialize(replacement));
                            copied = end;
                        }
                        continue;
                    default:
                        NextKey(ref property, arrayIndex);
                        continue;
                }
            }
        }
        catch (JsonException)
        {
            return text;
        }
        output.Append(Encoding.UTF8.GetString(bytes, copied, bytes.Length - copied));
        return output.ToString();
    }

    /// <summary>The key of the value being read: the property name in an object, the next index in an array.</summary>
    private static string NextKey(ref string? property, Stack<int> arrayIndex)
    {
        if (arrayIndex.Count > 0 && arrayIndex.Peek() >= 0)
        {
            var index = arrayIndex.Pop();
            arrayIndex.Push(index + 1);
            return index.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var key = property ?? "";
        property = null;
        return key;
    }
}
