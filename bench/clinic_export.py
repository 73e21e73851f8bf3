#!/usr/bin/env python3
# Part of crm_migration. License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Write a synthetic clinic-software export: practitioners, patients,
appointments, invoices, invoice lines, attachments (+ the documents).

Plain Python, deterministic for a given seed.  Used for the bundled demo
(``demo/clinic``) and by ``bench/bench_clinic.py``.

    python3 bench/clinic_export.py OUT_DIR --patients 1000 [--seed 7]
"""
import argparse
import csv
import os
import random

FIRST = ['Olivia', 'Liam', 'Amelia', 'Noah', 'Isla', 'Jack', 'Mia', 'Oliver', 'Ava', 'William', 'Zoë',
         'José', 'Renée', 'François', 'Ana', 'Chloé', 'Mateo', 'Léa', 'Søren', 'Ngaio']
LAST = ['Smith', 'Nguyen', 'García', 'Williams', 'Brown', 'Wilson', 'Taylor', 'Müller', "O'Brien",
        'Dupré', 'Peña', 'Kowalski', 'Chen', 'Patel', 'Ångström', 'Walker', 'Hall', 'Young']
STREETS = ['George St', 'Pitt St', 'King St', 'Oxford St', 'Crown St', 'Bourke St', 'Queen St']
CITIES = [('Sydney', 'NSW', '2000'), ('Newtown', 'NSW', '2042'), ('Melbourne', 'VIC', '3000'),
          ('Brisbane', 'QLD', '4000'), ('Paddington', 'NSW', '2021')]
SPECIALTIES = ['Physiotherapy', 'Chiropractic', 'Osteopathy', 'Podiatry', 'Psychology']
TYPES = ['Initial Consultation', 'Follow-up', 'Treatment', 'Phone Consultation', 'Telehealth', 'Review']
STATUSES = ['Completed'] * 6 + ['Scheduled'] * 3 + ['Cancelled', 'No-show', 'Confirmed']
INVOICE_STATUSES = ['Paid'] * 5 + ['Draft', 'Open', 'Void']
SERVICES = [('CONSULT', 'Consultation', 90.0), ('TREAT', 'Treatment session', 120.0),
            ('HEAT', 'Heat pack', 12.5), ('REPORT', 'Medical report', 60.0)]
REFERRALS = ['GP', 'Website', 'Friend', 'Insurance']
INSURERS = ['Medibank', 'Bupa', 'HCF', 'nib', '']


def write(path, header, rows, encoding='utf-8', delimiter=','):
    with open(path, 'w', encoding=encoding, newline='') as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator='\r\n')
        writer.writerow(header)
        count = 0
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def generate(out, patients=100, practitioners=None, seed=7, documents=True):
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    practitioners = practitioners or max(3, patients // 100)
    pract_ids = ['PR%d' % i for i in range(1, practitioners + 1)]
    write(os.path.join(out, 'practitioners.csv'),
          ['Practitioner ID', 'First Name', 'Last Name', 'Specialty', 'License Number', 'Email', 'Phone'],
          ([pid, rnd.choice(FIRST), rnd.choice(LAST), rnd.choice(SPECIALTIES), 'LIC-%05d' % i,
            'practitioner%d@clinic.example' % i, '+61 2 9000 %04d' % i] for i, pid in enumerate(pract_ids, 1)),
          delimiter=';')

    def patient_rows():
        for i in range(1, patients + 1):
            city, state, postcode = rnd.choice(CITIES)
            yield ['P%06d' % i, rnd.choice(FIRST), rnd.choice(LAST),
                   '%02d/%02d/%d' % (rnd.randint(1, 28), rnd.randint(1, 12), rnd.randint(1940, 2015)),
                   'patient%d@mail.example' % i, '02 9%03d %04d' % (i % 1000, i % 10000),
                   '04%02d %03d %03d' % (i % 100, i % 1000, (i * 7) % 1000) if i % 3 else '',
                   '%d %s' % (rnd.randint(1, 300), rnd.choice(STREETS)), city, state, postcode, 'Australia',
                   rnd.choice(REFERRALS), 'Prefers morning appointments.' if i % 5 == 0 else '']

    # cp1252: what a Windows clinic PC writes for "CSV".
    write(os.path.join(out, 'patients.csv'),
          ['Patient ID', 'First Name', 'Last Name', 'Date of Birth', 'Email', 'Phone', 'Mobile Phone',
           'Street', 'City', 'State', 'Postcode', 'Country', 'Referral Source', 'Notes'],
          patient_rows(), encoding='cp1252')

    appointments = []

    def appointment_rows():
        for i in range(1, 2 * patients + 1):
            patient = 'P%06d' % rnd.randint(1, patients)
            start = '%02d/%02d/2025 %02d:%s' % (rnd.randint(1, 28), rnd.randint(1, 12), rnd.randint(8, 17),
                                                rnd.choice(['00', '15', '30', '45']))
            appointments.append(patient)
            yield ['A%07d' % i, patient, rnd.choice(pract_ids), rnd.choice(TYPES), start,
                   rnd.choice([15, 30, 45, 60]), rnd.choice(STATUSES), '']

    write(os.path.join(out, 'appointments.csv'),
          ['Appointment ID', 'Patient ID', 'Practitioner ID', 'Appointment Type', 'Starts At',
           'Duration Minutes', 'Status', 'Notes'], appointment_rows())

    invoices = []

    def invoice_rows():
        for i in range(1, patients // 2 + 1):
            number = 'INV-%06d' % i
            invoices.append(number)
            insurer = rnd.choice(INSURERS)
            yield [number, 'P%06d' % rnd.randint(1, patients),
                   '%02d/%02d/2025' % (rnd.randint(1, 28), rnd.randint(1, 12)), rnd.choice(INVOICE_STATUSES),
                   '', insurer, 'CLM-%06d' % i if insurer else '', '97110' if insurer else '']

    write(os.path.join(out, 'invoices.csv'),
          ['Invoice Number', 'Patient ID', 'Invoice Date', 'Status', 'Total Amount', 'Insurance Carrier',
           'Claim Number', 'Procedure Codes'], invoice_rows())

    def line_rows():
        line = 0
        for number in invoices:
            for _j in range(rnd.randint(1, 3)):
                line += 1
                code, label, price = rnd.choice(SERVICES)
                yield ['L%07d' % line, number, code, label, rnd.randint(1, 2), price]

    write(os.path.join(out, 'invoice_lines.csv'),
          ['Line ID', 'Invoice Number', 'Service Code', 'Service Description', 'Quantity', 'Unit Amount'],
          line_rows())

    if documents:
        docs = os.path.join(out, 'documents')
        os.makedirs(docs, exist_ok=True)
        rows = []
        for i in range(1, max(2, patients // 20) + 1):
            name = 'consent_%04d.pdf' % i
            with open(os.path.join(docs, name), 'wb') as handle:
                handle.write(b'%PDF-1.4\n% consent form ' + str(i).encode() + b'\n%%EOF\n')
            rows.append(['D%05d' % i, 'P%06d' % rnd.randint(1, patients), '', name, 'Signed consent form'])
        write(os.path.join(out, 'attachments.csv'),
              ['Attachment ID', 'Patient ID', 'Practitioner ID', 'File Name', 'Description'], rows)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out')
    parser.add_argument('--patients', type=int, default=100)
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--no-documents', action='store_true')
    args = parser.parse_args()
    generate(args.out, args.patients, seed=args.seed, documents=not args.no_documents)
    print(args.out)


if __name__ == '__main__':
    main()
