// A csc stand-in: Roslyn 3.4 (from the .NET Core 3.1 SDK) hosted on Debian's Mono.
//
// Why: the SDK's own csc runs on .NET Core 3.1, which aborts on Debian 12 because
// only OpenSSL 3 is there. Mono can load Roslyn's netstandard2.0 assemblies, so
// this small program (compiled with Mono's mcs, C# 7) parses csc's usual command
// line with Roslyn's own parser, compiles and emits. Exit code 1 on any error.
using System;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

static class RoslynDriver
{
    static int Main(string[] args)
    {
        var parsed = CSharpCommandLineParser.Default.Parse(
            args, Directory.GetCurrentDirectory(), sdkDirectory: null);
        foreach (var d in parsed.Errors)
            Console.Error.WriteLine(d.ToString());
        if (parsed.Errors.Any(d => d.Severity == DiagnosticSeverity.Error))
            return 1;

        var trees = parsed.SourceFiles.Select(f => CSharpSyntaxTree.ParseText(
            File.ReadAllText(f.Path), parsed.ParseOptions, f.Path));
        var references = parsed.MetadataReferences.Select(
            r => (MetadataReference)MetadataReference.CreateFromFile(r.Reference));
        var outName = parsed.OutputFileName ?? "out.dll";
        var compilation = CSharpCompilation.Create(
            Path.GetFileNameWithoutExtension(outName), trees, references,
            parsed.CompilationOptions);

        var outPath = Path.Combine(parsed.OutputDirectory, outName);
        var result = compilation.Emit(outPath);
        var shown = result.Diagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .OrderBy(d => d.Location.SourceTree?.FilePath)
            .ThenBy(d => d.Location.SourceSpan.Start)
            .ToList();
        foreach (var d in shown)
            Console.Error.WriteLine(d.ToString());
        var errors = shown.Count(d => d.Severity == DiagnosticSeverity.Error);
        Console.Error.WriteLine("roslyn {0} {1}: {2} error(s), {3} warning(s) -> {4}",
            typeof(CSharpCompilation).Assembly.GetName().Version,
            parsed.ParseOptions.LanguageVersion, errors, shown.Count - errors,
            result.Success ? outPath : "nothing written");
        if (!result.Success && File.Exists(outPath))
            File.Delete(outPath);
        return result.Success ? 0 : 1;
    }
}
