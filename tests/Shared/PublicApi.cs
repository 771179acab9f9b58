using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Checkpointing.Testing;

/// <summary>
/// Lists an assembly's public API as text, one type and its members per block, for approval tests: a change to the
/// public surface shows up as a diff of the approved file. Linked into each test project that tracks an API.
/// </summary>
internal static class PublicApi
{
    /// <summary>
    /// Compares the assembly's API with <c>PublicApi.approved.txt</c> copied next to the test assembly; on a difference,
    /// writes <c>PublicApi.received.txt</c> beside the test sources (when they exist) to diff or approve.
    /// </summary>
    public static void AssertApproved(Assembly assembly, [CallerFilePath] string callerPath = "")
    {
        var actual = Describe(assembly);
        var approved = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt")).ReplaceLineEndings("\n");
        var sourceDirectory = Path.GetDirectoryName(callerPath);
        if (approved != actual && Directory.Exists(sourceDirectory))
        {
            File.WriteAllText(Path.Combine(sourceDirectory, "PublicApi.received.txt"), actual);
        }

        Xunit.Assert.Equal(approved, actual);
    }

    public static string Describe(Assembly assembly)
    {
        var text = new StringBuilder();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            var kind = type.IsEnum ? "enum" : type.IsValueType ? "struct" : type.IsInterface ? "interface"
                : type.IsAbstract && type.IsSealed ? "static class" : type.IsSealed ? "sealed class" : "class";
            var bases = new[] { type.BaseType }.Where(b => b is not null && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum))
                .Concat(type.GetInterfaces().Where(i => !i.Name.StartsWith("IEquatable", StringComparison.Ordinal)))
                .Select(b => Name(b!));
            text.Append(kind).Append(' ').Append(type.FullName);
            var list = string.Join(", ", bases);
            text.Append(list.Length > 0 ? " : " + list : "").Append('\n');
            const BindingFlags flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            var members = type.GetMembers(flags)
                .Where(m => m is not MethodInfo { IsSpecialName: true })
                .Where(m => m.Name is not ("EqualityContract" or "<Clone>$" or "Deconstruct" or "Equals" or "GetHashCode" or "PrintMembers") || type.IsClass && !IsRecord(type))
                .Select(Member)
                .Where(m => m.Length > 0)
                .OrderBy(m => m, StringComparer.Ordinal);
            foreach (var member in members)
            {
                text.Append("  ").Append(member).Append('\n');
            }
        }

        return text.ToString();
    }

    private static bool IsRecord(Type type) => type.GetMethod("<Clone>$") is not null || type.GetProperty("EqualityContract", BindingFlags.NonPublic | BindingFlags.Instance) is not null;

    private static string Member(MemberInfo member) => member switch
    {
        ConstructorInfo c => $"ctor({Parameters(c)})",
        MethodInfo m => $"{(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}({Parameters(m)})",
        PropertyInfo p => $"{(p.GetMethod?.IsStatic == true ? "static " : "")}{Name(p.PropertyType)} {p.Name} {{ {(p.GetMethod?.IsPublic == true ? "get; " : "")}{(p.SetMethod?.IsPublic == true ? (p.SetMethod.ReturnParameter.GetRequiredCustomModifiers().Any(x => x.Name == "IsExternalInit") ? "init; " : "set; ") : "")}}}",
        FieldInfo f => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static readonly " : "")}{Name(f.FieldType)} {f.Name}",
        EventInfo e => $"event {Name(e.EventHandlerType!)} {e.Name}",
        _ => "",
    };

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? (p.ParameterType.IsValueType && Nullable.GetUnderlyingType(p.ParameterType) is null ? "default" : "null")) : "")}"));

    private static string Name(Type type)
    {
        if (type.IsGenericType)
        {
            var name = type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)];
            return $"{type.Namespace}.{name}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>";
        }

        return type.IsArray ? Name(type.GetElementType()!) + "[]" : type.FullName ?? type.Name;
    }
}
