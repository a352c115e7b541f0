// ServerCertificateValidator against certificates made here: a CA, a server
// certificate it issued, and the ways a certificate must be refused. No server
// needed (the live checks then do the same over a real https connection).
using System;
using System.Collections.Generic;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Tasks;
using NpcRuntime.Client;

static class TlsChecks
{
    public static IEnumerable<(string, Func<Task>)> All() => new (string, Func<Task>)[]
    {
        ("a server certificate issued by the given CA is trusted", IssuedByTheCa),
        ("a self-signed server certificate given as the CA is trusted", SelfSignedAsCa),
        ("another CA, a wrong host, an expired or a client-only certificate is refused", Refusals),
        ("CA PEM: bundles parse; no certificate or a broken one is an ArgumentException", PemParsing),
    };

    /// <summary>A self-signed CA (or, with <paramref name="issuer"/>, a certificate it issues).</summary>
    public static X509Certificate2 Make(string subject, X509Certificate2? issuer = null, bool isCa = false,
        int validFromDays = -1, int validToDays = 2, string? usage = "1.3.6.1.5.5.7.3.1")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        if (!isCa)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
            if (usage != null)
                request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new Oid(usage) }, false));
        }
        var from = DateTimeOffset.UtcNow.AddDays(validFromDays);
        var to = DateTimeOffset.UtcNow.AddDays(validToDays);
        if (issuer == null)
            return request.CreateSelfSigned(from, to);
        using var issuerKey = issuer.GetECDsaPrivateKey();
        var serial = Guid.NewGuid().ToByteArray();
        return request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), from, to, serial);
    }

    static ServerCertificateValidator Trusting(X509Certificate2 ca) =>
        ServerCertificateValidator.FromPem(ServerCertificateValidator.ToPem(ca));

    static Task IssuedByTheCa()
    {
        using var ca = Make("CN=Test CA", isCa: true);
        using var server = Make("CN=localhost", ca);
        var validator = Trusting(ca);
        Check.Equal<string?>(null, validator.Reject(server, SslPolicyErrors.None), "reason");
        // The platform reports chain errors for a CA it does not know: re-checked against ours.
        Check.That(validator.Validate(server, SslPolicyErrors.RemoteCertificateChainErrors), "trusted despite the device's chain errors");
        return Task.CompletedTask;
    }

    static Task SelfSignedAsCa()
    {
        using var server = Make("CN=localhost", isCa: true);
        Check.Equal<string?>(null, Trusting(server).Reject(server, SslPolicyErrors.RemoteCertificateChainErrors), "reason");
        return Task.CompletedTask;
    }

    static Task Refusals()
    {
        using var ca = Make("CN=Test CA", isCa: true);
        using var other = Make("CN=Someone else's CA", isCa: true);
        using var server = Make("CN=localhost", ca);
        using var expired = Make("CN=localhost", ca, validFromDays: -10, validToDays: -1);
        using var clientOnly = Make("CN=localhost", ca, usage: "1.3.6.1.5.5.7.3.2");
        var cases = new (string What, ServerCertificateValidator Validator, X509Certificate2? Cert, SslPolicyErrors Errors, string Reason)[]
        {
            ("another CA", Trusting(other), server, SslPolicyErrors.RemoteCertificateChainErrors, "not issued by the given CA"),
            ("a wrong host", Trusting(ca), server, SslPolicyErrors.RemoteCertificateNameMismatch, "not for the host"),
            ("expired", Trusting(ca), expired, SslPolicyErrors.RemoteCertificateChainErrors, "NotTimeValid"),
            ("client-only usage", Trusting(ca), clientOnly, SslPolicyErrors.None, "NotValidForUsage"),
            ("no certificate", Trusting(ca), null, SslPolicyErrors.RemoteCertificateNotAvailable, "no certificate"),
        };
        foreach (var (what, validator, cert, errors, reason) in cases)
        {
            Check.That(!validator.Validate(cert, errors), what + " refused");
            Check.That(validator.LastRejection?.Contains(reason) == true, $"{what}: '{reason}' in '{validator.LastRejection}'");
        }
        return Task.CompletedTask;
    }

    static Task PemParsing()
    {
        using var a = Make("CN=A", isCa: true);
        using var b = Make("CN=B", isCa: true);
        var bundle = "# two CAs\r\n" + ServerCertificateValidator.ToPem(a) + "\r\n" + ServerCertificateValidator.ToPem(b).Replace("\n", "\r\n");
        var parsed = ServerCertificateValidator.ParsePem(bundle);
        Check.Equal(2, parsed.Count, "certificates in a bundle");
        Check.Equal(b.Thumbprint, parsed[1].Thumbprint, "the second one");
        foreach (var bad in new[] { "", "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n",
                                    "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
                                    "-----BEGIN CERTIFICATE-----\nAAAA\n", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" })
        {
            try
            {
                ServerCertificateValidator.ParsePem(bad);
                throw new Exception("expected ArgumentException for " + bad);
            }
            catch (ArgumentException)
            {
            }
        }
        // A client built with a broken CA fails at once, not at the first call.
        try
        {
            NpcClient.ForGrpcWeb(new Uri("https://localhost:1/"), new NpcClientOptions { CaCertificatePem = "nope" });
            throw new Exception("expected ArgumentException for a CA without a certificate");
        }
        catch (ArgumentException)
        {
        }
        return Task.CompletedTask;
    }
}
