// System.Threading.Tasks.Extensions 4.2.0.1 as Roslyn expects it: Mono's corlib
// already has these types, so forward to them instead of shipping a second copy.
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Threading.Tasks;

[assembly: AssemblyVersion("4.2.0.1")]
[assembly: TypeForwardedTo(typeof(ValueTask))]
[assembly: TypeForwardedTo(typeof(ValueTask<>))]
[assembly: TypeForwardedTo(typeof(AsyncValueTaskMethodBuilder))]
[assembly: TypeForwardedTo(typeof(AsyncValueTaskMethodBuilder<>))]
[assembly: TypeForwardedTo(typeof(ConfiguredValueTaskAwaitable))]
[assembly: TypeForwardedTo(typeof(ConfiguredValueTaskAwaitable<>))]
[assembly: TypeForwardedTo(typeof(ValueTaskAwaiter))]
[assembly: TypeForwardedTo(typeof(ValueTaskAwaiter<>))]
[assembly: TypeForwardedTo(typeof(AsyncMethodBuilderAttribute))]
