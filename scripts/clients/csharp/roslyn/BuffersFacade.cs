// System.Buffers 4.0.2.0 (used by the portable System.Memory): Mono's corlib has
// ArrayPool, so forward to it.
using System.Buffers;
using System.Reflection;
using System.Runtime.CompilerServices;

[assembly: AssemblyVersion("4.0.2.0")]
[assembly: TypeForwardedTo(typeof(ArrayPool<>))]
