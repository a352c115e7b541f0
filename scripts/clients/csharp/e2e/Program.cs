// End-to-end checks of the Unity client's core (NpcRuntime.Core.dll, built for
// netstandard2.1) on the .NET Core 3.1 runtime: first the transport against
// canned HTTP responses (framing, trailers, errors, the token header) and the
// TLS certificate checks against certificates made here, then the typed client
// against a live `npc-runtime serve --web-port` with the real model.
//
//   dotnet NpcE2E.dll [http://127.0.0.1:WEB_PORT/]     (no URL: offline checks only)
//   NPC_E2E_TOKEN=... NPC_E2E_ADMIN_TOKEN=... NPC_E2E_CA_FILE=cert.pem \
//     dotnet NpcE2E.dll https://localhost:WEB_PORT/    (serve --auth-tokens --tls-cert --tls-key)
//   NPC_E2E_CAPACITY=1: the server admits one turn at a time (--max-active-turns 1
//     --max-queued-turns 1); adds the ResourceExhausted check.
//   dotnet NpcE2E.dll URL --play: instead, plays the Unity sample's game (SamplePlay.cs)
//     against a server with one turn place (--max-active-turns 1 --max-queued-turns 0).
//
// Prints one PASS/FAIL line per check and "N passed, M failed"; exit 1 on a failure.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading.Tasks;

static class Program
{
    static int _passed, _failed;

    static async Task<int> Main(string[] args)
    {
        static string? Env(string name) =>
            string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)) ? null : Environment.GetEnvironmentVariable(name);
        var caFile = Env("NPC_E2E_CA_FILE");
        if (args.Length > 1 && args[1] == "--play")
        {
            using var play = new SamplePlay(new Uri(args[0]), Env("NPC_E2E_TOKEN"), Env("NPC_E2E_ADMIN_TOKEN"),
                caFile == null ? null : File.ReadAllText(caFile));
            foreach (var (name, check) in play.All())
                await Run(name, check);
            Console.WriteLine($"{_passed} passed, {_failed} failed");
            return _failed == 0 ? 0 : 1;
        }
        foreach (var (name, check) in TransportChecks.All().Concat(TlsChecks.All()).Concat(SampleRulesChecks.All()))
            await Run(name, check);
        if (args.Length > 0)
        {
            var live = new LiveChecks(new Uri(args[0]), Env("NPC_E2E_TOKEN"), Env("NPC_E2E_ADMIN_TOKEN"),
                caFile == null ? null : File.ReadAllText(caFile), Env("NPC_E2E_CAPACITY") == "1");
            foreach (var (name, check) in live.All())
                await Run(name, check);
        }
        Console.WriteLine($"{_passed} passed, {_failed} failed");
        return _failed == 0 ? 0 : 1;
    }

    static async Task Run(string name, Func<Task> check)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await check();
            _passed++;
            Console.WriteLine($"PASS {name} ({clock.ElapsedMilliseconds} ms)");
        }
        catch (Exception e)
        {
            _failed++;
            Console.WriteLine($"FAIL {name} ({clock.ElapsedMilliseconds} ms): {e}");
        }
    }
}

/// <summary>Tiny assertions: the message says what was expected and what came.</summary>
static class Check
{
    public static void That(bool condition, string what)
    {
        if (!condition)
            throw new Exception("expected " + what);
    }

    public static void Equal<T>(T expected, T actual, string what)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
            throw new Exception($"{what}: expected <{expected}>, got <{actual}>");
    }

    public static async Task<TException> Throws<TException>(Func<Task> action) where TException : Exception
    {
        try
        {
            await action();
        }
        catch (TException e)
        {
            return e;
        }
        throw new Exception("expected " + typeof(TException).Name);
    }
}
