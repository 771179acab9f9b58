using System.Text.Json;
using System.Text.Json.Nodes;

namespace Checkpointing.Internal;

/// <summary>JSON Merge Patch (RFC 7396).</summary>
internal static class JsonMergePatch
{
    public static JsonNode? Parse(string patch)
    {
        try
        {
            return JsonNode.Parse(patch, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = false });
        }
        catch (JsonException e)
        {
            throw new InvalidJsonException($"The merge patch is not valid JSON: {e.Message} Send a JSON object such as {{\"total_duration\": 12}}.", e);
        }
    }

    /// <summary>Applies <paramref name="patch"/> to <paramref name="target"/>; neither is modified.</summary>
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : new JsonObject();
        foreach (var (name, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(name);
            }
            else
            {
                result[name] = Apply(result[name], value);
            }
        }

        return result;
    }
}
